"""Extracellular action potentials (EAPs) of layer-5 Blue Brain Project cell models on a high-density MEA, as in
Buccino et al. (2018), "A Deep Learning Approach for the Classification of Neuronal Cell Types" (EMBC).

Pipeline (each step cached with :func:`neuro_lib.cache.cached`, keyed by its parameters and its code):

1. :mod:`~neuro_lib.mea.cells`: the 13 cell models shipped with MEArec, copied with their licence files and their
   NEURON mechanisms compiled once with ``nrnivmodl``;
2. :mod:`~neuro_lib.mea.intracellular`: one NEURON run per cell (constant somatic current, ~10 spikes in 1.2 s),
   spikes cut from -2 to +5 ms around the somatic peak, transmembrane currents and segment geometry saved;
3. :mod:`~neuro_lib.mea.extracellular`: our vectorised line-source EAP simulator, checked against MEArec;
4. :mod:`~neuro_lib.mea.features`: per-site amplitude and width images (the paper's Section II-C);
5. :mod:`~neuro_lib.mea.dataset`: the whole dataset (cells x kept EAPs x rotation regimes);
6. :mod:`~neuro_lib.mea.cnn` and :mod:`~neuro_lib.mea.classify`: the paper's CNN as a scikit-learn estimator, the
   splits, cross-validation and tables of the chapter; :mod:`~neuro_lib.mea.predict`: the CNN on your own EAPs.
"""
from .cells import CELL_MODELS, EXCITATORY, MEAError, cell_class, cell_mtype, compile_cell_models, is_excitatory

__all__ = ["CELL_MODELS", "EXCITATORY", "MEAError", "cell_class", "cell_mtype", "compile_cell_models",
           "is_excitatory"]
