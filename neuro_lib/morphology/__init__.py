"""Neuron morphology: SWC reading and validation, repair, the 19 hand-designed features, projections,
augmentation, synthetic cells and the chapter's data layer (Zhang et al. 2021, Sci Rep 11:7291)."""
from .io import SWC, SWCError, LoadReport, load_directory, parse_swc, read_swc, to_neurom, write_swc

__all__ = ["SWC", "SWCError", "LoadReport", "load_directory", "parse_swc", "read_swc", "to_neurom", "write_swc"]
