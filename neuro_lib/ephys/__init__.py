"""The ephys chapter (Ophir, Shefi & Lindenbaum 2023): Allen Cell Types electrophysiology features of mouse and human
cells; excitatory/inhibitory across species (DANN) and five mouse Cre classes (LSPIN).

:mod:`~neuro_lib.ephys.data` (loaders, validation, the two tasks as arrays), :mod:`~neuro_lib.ephys.models` (the
scikit-learn estimators), :mod:`~neuro_lib.ephys.chapter` (profile settings, model sets),
:mod:`~neuro_lib.ephys.experiments` (splits, cross-validation runs, results entries),
:mod:`~neuro_lib.ephys.interpret` (gates, SHAP, species mixing), :mod:`~neuro_lib.ephys.predict` (new cells).
"""
from . import data, models
from .data import *  # noqa: F403 - the loaders and the two tasks, as listed in data.__all__
from .models import *  # noqa: F403 - the scikit-learn estimators, as listed in models.__all__

__all__ = [*data.__all__, *models.__all__]
