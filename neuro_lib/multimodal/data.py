"""The multimodal chapter's data: the mouse VISp cells that the Allen Cell Types Database both recorded and
reconstructed, one row per cell, with both modalities' features side by side.

Sources (all from the registry, ``neuro_lib.datasets``):

* morphology: the 509 SWC files of ``morphology/mouse_allen_visp.tar.xz`` and their rows of
  ``morphology/labels.csv`` (``neuron_name`` = specimen id; ``cell_type`` = ``<dendrite type>|<Cre line>|<layer>``,
  where the Cre line of an intersectional cross is two names, e.g. ``aspiny|Nos1-CreERT2|Sst-IRES-FlpO|layer 5``;
  ``notes`` holds ``reconstruction_type=full`` or ``dendrite-only``), read through
  :func:`neuro_lib.morphology.data.labels`; morphometrics per neurite type from
  :func:`neuro_lib.morphology.neurites.neurite_table` (77 columns, um);
* electrophysiology: the ACTB feature table (:func:`neuro_lib.ephys.load_actb`, 33 columns of
  :data:`neuro_lib.ephys.ACTB_FEATURES`) for every one of the 509, and the ephys paper's 41-feature table
  (:func:`neuro_lib.ephys.load_ophir`, Ophir et al. 2023) with its 5 Cre classes for 376 of them.

Tasks: ``"e_i"`` excitatory (dendrite type ``spiny``) against inhibitory (``aspiny`` and ``sparsely spiny``), all 509
cells; ``"cre5"`` the 5 Cre classes of the ephys paper (:data:`neuro_lib.ephys.CRE_CLASSES`), the 376 cells of its
set. Feature columns are prefixed by their block: ``ephys41:``, ``actb:``, ``morph:`` and ``tmd:`` (TMD persistence
images of the same SWC files, :func:`tmd_block`).
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["ARCHIVE", "DATA_KEYS", "TASKS", "E_I_CLASSES", "MultimodalError", "TaskData", "cell_table",
           "feature_blocks", "tmd_block", "MODALITY_BLOCKS", "task_data", "block_columns", "data_metrics",
           "apical_label_table", "slug", "ephys_only_cells"]

ARCHIVE = "mouse_allen_visp.tar.xz"
#: the registry files the chapter reads (for ``datasets.checksums``)
DATA_KEYS = ("morphology/labels.csv", "morphology/mouse_allen_visp.tar.xz", "allen_cell_types/ephys_features.csv",
             "allen_cell_types/cell_types_specimen_details.csv", "allen_cell_types/ophir2023_mouse_ephys_data.csv")
TASKS = {"e_i": "excitatory (spiny) against inhibitory (aspiny + sparsely spiny), all 509 cells",
         "cre5": "the 5 Cre classes of Ophir et al. 2023, the 376 cells of their 41-feature set"}
#: class names of task ``e_i`` in code order
E_I_CLASSES = ["inhibitory", "excitatory"]
BLOCKS = ("ephys41", "actb", "morph", "tmd")
#: the blocks of each modality (what a missing modality blanks)
MODALITY_BLOCKS = {"ephys": ("ephys41", "actb"), "morph": ("morph", "tmd")}


class MultimodalError(ValueError):
    """A join that does not hold: names the file, the column and the specimen id."""

    def __init__(self, path, column: str, reason: str):
        self.path, self.column, self.reason = str(path), column, reason
        super().__init__(f"{path}: column {column!r}: {reason}")


@functools.lru_cache(maxsize=2)
def _cell_table(cache_key: str) -> pd.DataFrame:
    from ..ephys import load_actb, load_ophir
    from ..morphology.data import labels

    lab = labels([ARCHIVE])
    if not lab["neuron_name"].astype(str).str.fullmatch(r"\d+").all():
        bad = lab.loc[~lab["neuron_name"].astype(str).str.fullmatch(r"\d+"), "neuron_name"].iloc[0]
        raise MultimodalError("morphology/labels.csv", "neuron_name", f"{bad!r} is not a specimen id")
    ids = lab["neuron_name"].astype(np.int64).to_numpy()
    parts = lab["cell_type"].str.split("|")
    rec = lab["notes"].str.extract(r"reconstruction_type=([\w-]+)")[0]
    if rec.isna().any():
        raise MultimodalError("morphology/labels.csv", "notes",
                              f"specimen {ids[int(np.flatnonzero(rec.isna())[0])]} has no reconstruction_type=")
    t = pd.DataFrame({"cell_id": lab["cell_id"].to_numpy(), "path": lab["path"].to_numpy(),
                      "dendrite_type": parts.str[0].to_numpy(), "cre_line": parts.str[1:-1].str.join("|").to_numpy(),
                      "layer": parts.str[-1].str.replace("layer ", "", regex=False).to_numpy(),
                      "brain_region": lab["brain_region"].to_numpy(), "reconstruction_type": rec.to_numpy()},
                     index=pd.Index(ids, name="specimen_id"))
    if not t["dendrite_type"].isin(["spiny", "aspiny", "sparsely spiny"]).all():
        raise MultimodalError("morphology/labels.csv", "cell_type",
                              f"unknown dendrite types "
                              f"{sorted(set(t['dendrite_type']) - {'spiny', 'aspiny', 'sparsely spiny'})}")
    t["e_i"] = np.where(t["dendrite_type"] == "spiny", "excitatory", "inhibitory")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # load_actb's note on sparsely spiny cells: we label them inhibitory here
        actb = load_actb()
    ophir = load_ophir("mouse")
    missing = ~t.index.isin(actb.features.index)
    if missing.any():
        raise MultimodalError("allen_cell_types/ephys_features.csv", "specimen_id",
                              f"{int(missing.sum())} reconstructed cells have no ephys row, e.g. {t.index[missing][0]}")
    t["in_ophir41"] = t.index.isin(ophir.features.index)
    t["cre_class"] = ophir.meta["cre_class"].reindex(t.index).to_numpy()
    t["actb_dendrite_type"] = actb.meta["dendrite_type"].reindex(t.index).to_numpy()
    return t


def cell_table() -> pd.DataFrame:
    """The 509 cells, indexed by ``specimen_id``, in ``labels.csv`` order: ``cell_id``, ``path`` (local SWC),
    ``dendrite_type``, ``cre_line``, ``layer``, ``brain_region``, ``reconstruction_type`` (``full`` /
    ``dendrite-only``), ``e_i``, ``in_ophir41`` (bool), ``cre_class`` (NaN outside the 41-feature set),
    ``actb_dendrite_type`` (the ephys table's, for the consistency check).

    Raises :class:`MultimodalError` for a ``neuron_name`` that is not a specimen id, a row without
    ``reconstruction_type=``, an unknown dendrite type or a reconstructed cell without an ephys row."""
    from .. import datasets

    return _cell_table(str(datasets.cache_dir())).copy()


def tmd_block(paths, *, n_jobs: int = 2) -> pd.DataFrame:
    """(n, 1024) TMD persistence images of the SWC files ``paths`` (Kanari et al. 2018, Neuroinformatics 16:3; the
    morphology chapter's :func:`neuro_lib.morphology.persistence.persistence_images`, 16 x 16 pixels on 0-1500 um of
    radial distance): ``tmd:aware_<k>`` the 768 pixels of the typing-aware image (axon, basal, apical dendrite in
    turn) and ``tmd:free_<k>`` the 256 of the typing-free one (axon removed, every dendrite one type). Cached."""
    from ..morphology.persistence import persistence_images

    im = persistence_images(list(paths), n_jobs=n_jobs)
    return pd.DataFrame(np.hstack([im["typing-aware"], im["typing-free"]]),
                        columns=[f"tmd:aware_{k:03d}" for k in range(im["typing-aware"].shape[1])]
                        + [f"tmd:free_{k:03d}" for k in range(im["typing-free"].shape[1])])


def feature_blocks(cells: pd.DataFrame | None = None, *, n_jobs: int = 2) -> dict[str, pd.DataFrame]:
    """``{"ephys41": (n, 41), "actb": (n, 33), "morph": (n, 77), "tmd": (n, 1024)}`` DataFrames indexed like
    ``cells`` (default :func:`cell_table`), columns prefixed ``<block>:``; ``ephys41`` rows are NaN for cells outside
    the authors' set; ``tmd`` the persistence images of :func:`tmd_block` (a second morphology block).
    Units: those of the source tables (mV, pA, ms, MOhm; um for morphometrics)."""
    import warnings

    from ..ephys import FEATURES_41, load_actb, load_ophir
    from ..morphology.neurites import neurite_table

    cells = cell_table() if cells is None else cells
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        actb = load_actb().features.reindex(cells.index)
    ophir = load_ophir("mouse").features.reindex(cells.index)[FEATURES_41]
    morph = neurite_table(list(cells["path"]), n_jobs=n_jobs)
    morph.index = cells.index
    tmd = tmd_block(cells["path"], n_jobs=n_jobs)
    tmd.index = cells.index
    return {"ephys41": ophir.add_prefix("ephys41:"), "actb": actb.add_prefix("actb:"),
            "morph": morph.add_prefix("morph:"), "tmd": tmd}


def block_columns(columns, block: str) -> list[str]:
    """The columns of ``columns`` that belong to ``block`` (prefix ``<block>:``)."""
    return [c for c in columns if str(c).startswith(f"{block}:")]


@dataclass
class TaskData:
    """One task's cells: ``X`` (n, n_features) DataFrame with every block's columns (prefixed), ``y`` (n,) int64
    codes into ``class_names``, ``cells`` (n rows of :func:`cell_table`; ``reconstruction_type`` is ``"none"`` for an
    ephys-only cell), ``blocks`` the block names in ``X``. ``tested`` (n,) bool: the cells with both modalities, the
    only ones ever tested; the others (ephys-only cells of the same tables) may only be trained on."""

    task: str
    X: pd.DataFrame
    y: np.ndarray
    class_names: list
    cells: pd.DataFrame
    blocks: tuple = field(default=BLOCKS)

    def __len__(self) -> int:
        return len(self.y)

    @property
    def names(self) -> np.ndarray:
        return np.asarray(self.class_names, dtype=object)[self.y]

    @property
    def tested(self) -> np.ndarray:
        return (self.cells["reconstruction_type"] != "none").to_numpy()


def _subsample(y: np.ndarray, max_cells: int | None, seed: int) -> np.ndarray:
    if max_cells is None or max_cells >= len(y):
        return np.arange(len(y))
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(np.arange(len(y)), train_size=max_cells, stratify=y, random_state=seed)
    return np.sort(keep)


def ephys_only_cells(task: str, exclude) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mouse cells of the same ephys tables that have no reconstruction here (specimen ids not in ``exclude``):
    ``cre5``: the rest of the authors' 41-feature set (with their Cre class); ``e_i``: the rest of the ACTB table's
    mouse cells with a dendrite type. Returns ``(cells, X)`` like :func:`task_data`'s, morphometrics all NaN."""
    import warnings

    from ..ephys import FEATURES_41, load_actb, load_ophir

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        actb = load_actb()
    ophir = load_ophir("mouse")
    if task == "cre5":
        ids = ophir.features.index[~ophir.features.index.isin(exclude)]
        cells = pd.DataFrame({"cre_class": ophir.meta.loc[ids, "cre_class"].to_numpy(),
                              "dendrite_type": ophir.meta.loc[ids, "dendrite_type"].to_numpy()}, index=ids)
    else:
        m = actb.meta[(actb.meta["species"] == "mouse") & actb.meta["dendrite_type"].isin(
            ["spiny", "aspiny", "sparsely spiny"]) & ~actb.meta.index.isin(exclude)]
        ids = m.index
        cells = pd.DataFrame({"dendrite_type": m["dendrite_type"].to_numpy()}, index=ids)
    cells.index.name = "specimen_id"
    cells["e_i"] = np.where(cells["dendrite_type"] == "spiny", "excitatory", "inhibitory")
    cells["reconstruction_type"] = "none"
    cells["in_ophir41"] = cells.index.isin(ophir.features.index)
    X = pd.concat([ophir.features.reindex(ids)[FEATURES_41].add_prefix("ephys41:"),
                   actb.features.reindex(ids).add_prefix("actb:")], axis=1)
    return cells, X


def task_data(task: str, *, max_cells: int | None = None, seed: int = 0, n_jobs: int = 2,
              ephys_only: bool = False) -> TaskData:
    """The cells of ``task`` (:data:`TASKS`) with all four feature blocks (:func:`feature_blocks`); ``max_cells``
    keeps a stratified subset (tests; of the ephys-only cells too). ``e_i``: codes of :data:`E_I_CLASSES` (``ephys41``
    NaN for the 133 cells outside the authors' set, so its models use ``actb`` and ``morph``); ``cre5``: codes of
    :data:`neuro_lib.ephys.CRE_CLASSES`. With ``ephys_only`` the cells of :func:`ephys_only_cells` follow the
    reconstructed ones (``TaskData.tested`` False): cells a model may train on, never test cells."""
    from ..ephys import CRE_CLASSES

    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {list(TASKS)}")
    full = cell_table()

    def labels(c):
        if task == "cre5":
            return np.array([CRE_CLASSES.index(v) for v in c["cre_class"]], dtype=np.int64)
        return (c["e_i"] == "excitatory").to_numpy().astype(np.int64)

    cells = full[full["in_ophir41"]] if task == "cre5" else full
    y = labels(cells)
    keep = _subsample(y, max_cells, seed)
    cells, y = cells.iloc[keep], y[keep]
    X = pd.concat(list(feature_blocks(cells, n_jobs=n_jobs).values()), axis=1)
    if ephys_only:
        ec, eX = ephys_only_cells(task, full.index)
        ey = labels(ec)
        keep = _subsample(ey, max_cells, seed)
        ec, eX, ey = ec.iloc[keep], eX.iloc[keep], ey[keep]
        X = pd.concat([X, eX.reindex(columns=X.columns)])
        cells, y = pd.concat([cells, ec]), np.r_[y, ey]
    names = list(CRE_CLASSES) if task == "cre5" else list(E_I_CLASSES)
    return TaskData(task, X, y, names, cells)


def slug(name: str) -> str:
    """A class name as a results-key slot (``Htr3a+|Vip-`` stays, spaces become ``_``)."""
    return re.sub(r"\s+", "_", str(name))


def data_metrics(cells: pd.DataFrame, blocks: dict | None = None) -> dict:
    """Results entries of the data page: ``data/allen_visp/group=<g>/cells`` for ``all``, each reconstruction type,
    each dendrite type, each E/I class, ``in_ophir41`` and each Cre class of the 41-feature set; with ``blocks``
    (:func:`feature_blocks`) also ``data/<block>/features`` and ``data/<block>/missing_fraction``."""
    from .. import results

    k = lambda g, n: {results.key("data", "allen_visp", "cells", group=slug(g)): int(n)}  # noqa: E731
    out = k("all", len(cells))
    for col in ("reconstruction_type", "dendrite_type", "e_i", "cre_class"):
        for g, n in cells[col].value_counts().items():
            out.update(k(g, n))
    out.update(k("in_ophir41", cells["in_ophir41"].sum()))
    for name, df in (blocks or {}).items():
        out[results.key("data", name, "features")] = df.shape[1]
        rows = df.loc[cells["in_ophir41"]] if name == "ephys41" else df
        out[results.key("data", name, "missing_fraction")] = float(rows.isna().to_numpy().mean())
    return out


def apical_label_table(cells: pd.DataFrame, morph: pd.DataFrame) -> pd.DataFrame:
    """Cells per dendrite type and reconstruction type, split by whether the SWC labels any sample as apical
    dendrite (type 4; ``morph:apical_length`` > 0): the tracers' annotation, which the E/I task's morphology models
    can read."""
    has = np.where(morph["morph:apical_length"].to_numpy() > 0, "apical labelled", "no apical label")
    return pd.crosstab([cells["dendrite_type"], cells["reconstruction_type"]], pd.Series(has, index=cells.index,
                                                                                      name="SWC type 4"))
