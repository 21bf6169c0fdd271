"""The multimodal chapter (ours, no paper): the Allen mouse VISp cells that were both recorded and reconstructed,
each modality alone and both fused, on the same cells and the same folds.

Modules: :mod:`.data` (the joined table, the feature blocks, the two tasks, the ephys-only training cells),
:mod:`.models` (the estimators fusion needs: :class:`~.models.OnBlocks`, :class:`~.models.LateFusion`,
:class:`~.models.WithoutBlocks`, per-modality gates), :mod:`.experiment` (the model set, the cached
cross-validation, comparisons, results entries, what the pages plot), :mod:`.chapter` (settings per profile).
"""
