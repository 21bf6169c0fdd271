"""Neuron morphology (Zhang et al. 2021, Sci Rep 11:7291): SWC reading, repair, morphometrics, projections, reduced
trees, the chapter's estimators and its data layer.

Modules: :mod:`.io` (read/validate SWC, :class:`SWCError`, NeuroM hand-over), :mod:`.repair` (z-jumps, resampling),
:mod:`.topology` and :mod:`.features` (the 19 L-Measure features, one function each), :mod:`.neurites`
(morphometrics per neurite type), :mod:`.projections` (XY/XZ/YZ images), :mod:`.tree` (reduced trees, node
sequences), :mod:`.synthetic` (MST-grown virtual cells), :mod:`.index` and :mod:`.data` (validity index, labels,
tasks, splits, cached inputs), :mod:`.views`, :mod:`.svm`, :mod:`.networks`, :mod:`.fusion` (the estimators),
:mod:`.experiment` (the chapter's set of models), :mod:`.chapter` (settings), :mod:`.predict` (new files),
:mod:`.lmeasure` and :mod:`.plots`.
"""
from .io import SWC, LoadReport, SWCError, load_directory, load_swc, parse_swc, read_swc, to_neurom, write_swc

__all__ = ["SWC", "SWCError", "LoadReport", "load_directory", "load_swc", "parse_swc", "read_swc", "to_neurom",
           "write_swc"]
