"""Neuron morphology: SWC reading and validation, repair, the 19 hand-designed features, projections,
augmentation, synthetic cells and the chapter's data layer (Zhang et al. 2021, Sci Rep 11:7291).

Modules: :mod:`.io` (read/validate SWC, :class:`SWCError`, NeuroM hand-over), :mod:`.repair` (z-jumps, resampling),
:mod:`.features` (the 19 L-Measure features), :mod:`.neurites` (morphometrics per neurite type),
:mod:`.projections` (XY/XZ/YZ images, image augmentation),
:mod:`.augment` (pruning / adding branches), :mod:`.synthetic` (MST-grown virtual cells), :mod:`.data` (labels,
tasks, cached feature table, splits), :mod:`.tree` (reduced trees and node sequences for the sequence models).
"""
from .io import SWC, SWCError, LoadReport, load_directory, parse_swc, read_swc, to_neurom, write_swc

__all__ = ["SWC", "SWCError", "LoadReport", "load_directory", "parse_swc", "read_swc", "to_neurom", "write_swc"]
