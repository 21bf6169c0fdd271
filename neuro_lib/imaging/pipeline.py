"""Seong & Park's two stages together: the U-Net finds candidate cells, a patch classifier decides for each
candidate whether it is a cell, and the whole pipeline is scored with Neurofinder's centre metric on held-out
quadrants.

For held-out quadrant ``q`` (region split ``j`` of :func:`~.segmentation.quadrant_splits`), the candidates are the
peaks of split ``j``'s U-Net probability map (the network that never saw quadrant ``q``) above a candidate
threshold, on the whole field. The candidates in the training quadrants are labelled by Neurofinder's matching
(:func:`~.detection.match_centers`, one to one within 5 pixels, quadrant by quadrant): matched to a manual ROI =
cell, unmatched = not a cell, each patch centred where the detector put it (not on the ROI's centroid, so the
classifier never sees a centring that the test candidates lack). The classifier is trained on those only and
applied to the candidates in quadrant ``q``; those it calls cells are the pipeline's detections there.

The candidates of all splits form one sample set, and split ``j`` of the classifier's cross-validation is the
:class:`~neuro_lib.evaluation.Split` (train: split ``j``'s candidates in its training quadrants; test: its
candidates in quadrant ``q``), so :func:`neuro_lib.evaluation.cross_validate` fits it (``random_state = seed + j``)
and its :class:`~neuro_lib.evaluation.CVResult` holds the held-out probabilities.

One caveat, stated on the page: on its training quadrants a U-Net's candidates are in-sample (it was trained on
those pixels), so they are somewhat easier than the held-out ones the classifier is applied to.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..evaluation import CVResult, Split, cross_validate
from .detection import detect_peaks, extract_patches, match_centers, region_mask

__all__ = ["Candidates", "candidate_samples", "PipelineResult", "run_pipeline", "paired_quadrant_difference"]


@dataclass
class Candidates:
    """The classifier's samples: ``x`` (n, channels, S, S) patches, ``y`` (n,) 1 = matched to an ROI (cell), 0 = not;
    ``centres`` (n, 2) (row, col); ``split`` (n,) the region split whose U-Net found each; ``held_out`` (n,) True
    for a candidate in that split's test quadrant; ``splits`` the classifier's :class:`~neuro_lib.evaluation.Split`
    per region split."""

    x: np.ndarray
    y: np.ndarray
    centres: np.ndarray
    split: np.ndarray
    held_out: np.ndarray
    splits: list


def _label_by_quadrant(truth: np.ndarray, cand: np.ndarray, shape, threshold: float) -> np.ndarray:
    """(n,) 1 where a candidate matches an ROI centre of its own quadrant (one to one, Neurofinder's rule)."""
    y = np.zeros(len(cand), np.int64)
    for r in range(4):
        ci = np.flatnonzero(region_mask([r], shape, points=cand))
        t = truth[region_mask([r], shape, points=truth)]
        m = match_centers(t, cand[ci], threshold)
        y[ci[m[m >= 0]]] = 1
    return y


def candidate_samples(unet, truth: np.ndarray, patch_image: np.ndarray, *, size: int, thresholds,
                      sigma=None, match_threshold: float = 5.0, max_per_quadrant: int | None = None) -> Candidates:
    """The candidates of every region split of ``unet`` (a :class:`~.segmentation.QuadrantResult`): peaks of
    split ``j``'s whole-field probability map ``unet.full_prob[j]`` higher than ``thresholds[j]`` (smoothed by
    ``sigma[j]`` pixels, default each split's chosen peak smoothing), labelled as in the module docstring, with
    ``size``-pixel patches of ``patch_image`` (channels, rows, cols) around them. ``max_per_quadrant`` keeps only
    the highest peaks of each quadrant (the smoke profile's cap on a barely trained U-Net's thousands of peaks)."""
    shape = unet.prob.shape
    truth = np.asarray(truth, float).reshape(-1, 2)
    xs, ys, cs, sp, ho, splits, n = [], [], [], [], [], [], 0
    for j, (s, p) in enumerate(zip(unet.splits, unet.full_prob)):
        sg = unet.thresholds[j]["sigma"] if sigma is None else sigma[j]
        c = detect_peaks(p, float(thresholds[j]), sigma=sg)  # sorted by decreasing height
        if max_per_quadrant is not None:
            q = np.stack([region_mask([r], shape, points=c) for r in range(4)]).argmax(0)
            rank = np.array([np.sum(q[:i] == q[i]) for i in range(len(c))], int)
            c = c[rank < max_per_quadrant]
        held = region_mask(s.test, shape, points=c)
        xs.append(extract_patches(patch_image, c, size))
        ys.append(_label_by_quadrant(truth, c, shape, match_threshold))
        cs.append(c)
        sp.append(np.full(len(c), j))
        ho.append(held)
        splits.append(Split(n + np.flatnonzero(~held), [], n + np.flatnonzero(held), fold=s.fold))
        n += len(c)
    return Candidates(np.concatenate(xs), np.concatenate(ys), np.vstack(cs), np.concatenate(sp),
                      np.concatenate(ho), splits)


@dataclass
class PipelineResult:
    """What :func:`run_pipeline` returns: ``candidates`` (:class:`Candidates`), ``cv`` the classifier's
    :class:`~neuro_lib.evaluation.CVResult` over the region splits, ``p_cell`` (n,) its held-out probability of
    "cell" for every held-out candidate (NaN for training candidates), ``kept`` (n,) the held-out candidates it
    calls cells (``p_cell > p_threshold``), ``centroids`` the pipeline's detections (all held-out quadrants) and
    ``scores`` the per-quadrant Neurofinder scores (:func:`~.detection.quadrant_scores` layout)."""

    candidates: Candidates
    cv: CVResult
    p_cell: np.ndarray
    kept: np.ndarray
    centroids: np.ndarray
    scores: pd.DataFrame


def run_pipeline(classifier, unet, truth: np.ndarray, patch_image: np.ndarray, *, size: int, thresholds, seed: int = 0,
                 p_threshold: float = 0.5, max_per_quadrant: int | None = None, progress: bool = False
                 ) -> PipelineResult:
    """U-Net candidates (:func:`candidate_samples`) classified by ``classifier`` (any scikit-learn classifier of
    patches with labels 0/1), cross-validated over the region splits (:func:`neuro_lib.evaluation.cross_validate`,
    ``random_state = seed + j``); the candidates of each held-out quadrant with ``p(cell) > p_threshold`` are the
    pipeline's cells. Raises ``ValueError`` (from the driver) if a split's training candidates hold one class
    only."""
    from .detection import quadrant_scores

    cand = candidate_samples(unet, truth, patch_image, size=size, thresholds=thresholds,
                             max_per_quadrant=max_per_quadrant)
    cv = cross_validate({"patch": classifier}, cand.x, cand.y, cand.splits, seed=seed, progress=progress,
                        desc="patch classifier per held-out quadrant")["patch"]
    p = np.full(len(cand.y), np.nan)
    col = int(np.searchsorted(cv.classes, 1))
    for s, pr in zip(cand.splits, cv.proba):
        p[s.test] = pr[:, col]
    kept = np.nan_to_num(p, nan=-1.0) > p_threshold
    cents = cand.centres[kept]
    scores = quadrant_scores(truth, cents, unet.prob.shape, splits=unet.splits)
    return PipelineResult(cand, cv, p, kept, cents, scores)


def paired_quadrant_difference(a, b, metric: str = "f1", *, confidence: float = 0.95) -> dict:
    """``a - b`` in ``metric`` over the same held-out quadrants (per-quadrant score tables of
    :func:`~.detection.quadrant_scores`), with the corrected resampled t interval
    (:func:`neuro_lib.evaluation.corrected_t_interval`, ``n_test / n_train = 1/3``: each quadrant is tested by
    networks trained on the other three; Student t with 3 degrees of freedom for one seed, so the interval is wide).

    ``a`` and ``b`` may also be lists of such tables, one per seed (issue 14): the pairs are then every (seed,
    quadrant), seed ``i`` of ``a`` against seed ``i`` of ``b`` (Nadeau & Bengio's correction for ``r`` repetitions of
    ``k`` splits, ``r k - 1`` degrees of freedom). Returns ``{"mean", "lo", "hi", "p", "diffs"}`` (``diffs``: one per
    pair, seed-major). Raises ``ValueError`` if the tables are not over the same splits or the lists differ in
    length."""
    from ..evaluation import corrected_t_interval

    a_list, b_list = (list(a), list(b)) if isinstance(a, (list, tuple)) else ([a], [b])
    if len(a_list) != len(b_list) or not a_list:
        raise ValueError(f"{len(a_list)} score table(s) against {len(b_list)}: one per seed on each side")
    d = []
    for i, (ta, tb) in enumerate(zip(a_list, b_list)):
        if ta["fold"].tolist() != tb["fold"].tolist():
            raise ValueError(f"the two score tables of seed {i} are not over the same held-out quadrants")
        d.append(ta[metric].to_numpy(float) - tb[metric].to_numpy(float))
    d = np.concatenate(d)
    m, lo, hi, p = corrected_t_interval(d, 1 / 3, confidence=confidence)
    return {"mean": m, "lo": lo, "hi": hi, "p": p, "diffs": d}
