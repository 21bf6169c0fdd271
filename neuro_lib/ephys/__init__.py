"""The ephys chapter (Ophir, Shefi & Lindenbaum 2023): Allen Cell Types electrophysiology features of mouse and human
cells, excitatory/inhibitory across species (DANN) and five mouse Cre classes (LSPIN).

Loaders and validation: :mod:`neuro_lib.ephys.data`.
"""
from .data import (ACTB_FEATURES, CRE_CLASSES, CRE_LINE_TO_CLASS, FEATURES_41, OPHIR_KEYS, EphysTable,
                   EphysTableError, cre_class, ei_label, load_actb, load_ophir, read_feature_table)

__all__ = ["EphysTableError", "FEATURES_41", "ACTB_FEATURES", "CRE_CLASSES", "CRE_LINE_TO_CLASS", "EphysTable",
           "load_ophir", "load_actb", "read_feature_table", "ei_label", "cre_class", "OPHIR_KEYS"]
