"""The ephys chapter (Ophir, Shefi & Lindenbaum 2023): Allen Cell Types electrophysiology features of mouse and human
cells; excitatory/inhibitory across species (DANN) and five mouse Cre classes (LSPIN).

:mod:`~neuro_lib.ephys.data` (loaders, validation, the two tasks as arrays), :mod:`~neuro_lib.ephys.models` (the
scikit-learn estimators), :mod:`~neuro_lib.ephys.chapter` (profile settings, model sets),
:mod:`~neuro_lib.ephys.experiments` (splits, cross-validation runs, results entries),
:mod:`~neuro_lib.ephys.interpret` (gates, SHAP, species mixing), :mod:`~neuro_lib.ephys.predict` (new cells).
"""
from .data import (
                   ACTB_FEATURES,
                   CRE_CLASSES,
                   CRE_LINE_TO_CLASS,
                   EI_CLASSES,
                   FEATURES_41,
                   OPHIR_KEYS,
                   SPECIES,
                   EphysTable,
                   EphysTableError,
                   TaskData,
                   cre5_data,
                   cre_class,
                   ei_data,
                   ei_label,
                   load_actb,
                   load_ophir,
                   read_feature_rows,
                   read_feature_table,
)
from .models import (
                   DANNClassifier,
                   LSPINClassifier,
                   MLPNetwork,
                   Preprocessor,
                   SourceOnly,
                   SVCScores,
                   baselines,
)

__all__ = ["EphysTableError", "FEATURES_41", "ACTB_FEATURES", "CRE_CLASSES", "CRE_LINE_TO_CLASS", "EI_CLASSES",
           "SPECIES", "EphysTable", "TaskData", "load_ophir", "load_actb", "read_feature_table", "read_feature_rows",
           "ei_data", "cre5_data", "ei_label", "cre_class", "OPHIR_KEYS", "Preprocessor", "LSPINClassifier",
           "MLPNetwork", "DANNClassifier", "SourceOnly", "SVCScores", "baselines"]
