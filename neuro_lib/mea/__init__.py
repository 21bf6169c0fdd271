"""Extracellular action potentials (EAPs) of layer-5 Blue Brain Project cell models on a high-density MEA, as in
Buccino et al. (2018), "A Deep Learning Approach for the Classification of Neuronal Cell Types" (EMBC).

Pipeline (each step cached on disk under ``neuro_lib.datasets.cache_dir() / "mea"``):

1. :mod:`~neuro_lib.mea.cells`: the 13 cell models shipped with MEArec, copied with their licence files and their
   NEURON mechanisms compiled once with ``nrnivmodl``;
2. :mod:`~neuro_lib.mea.intracellular`: one NEURON run per cell (constant somatic current, ~10 spikes in 1.2 s),
   spikes cut from -2 to +5 ms around the somatic peak, transmembrane currents and segment geometry saved;
3. :mod:`~neuro_lib.mea.extracellular`: our vectorised line-source EAP simulator (rotate + translate the geometry in
   NumPy, one transfer matrix per position, one matrix product per spike), checked against MEArec;
4. :mod:`~neuro_lib.mea.features`: per-site amplitude and width images (the paper's Section II-C);
5. :mod:`~neuro_lib.mea.dataset`: the whole dataset (cells x kept EAPs x rotation regimes), cached under a key made
   of its parameters.
"""
from .cells import CELL_MODELS, EXCITATORY, MEAError, cell_class, cell_mtype, compile_cell_models, is_excitatory

__all__ = ["CELL_MODELS", "EXCITATORY", "MEAError", "cell_class", "cell_mtype", "compile_cell_models",
           "is_excitatory"]
