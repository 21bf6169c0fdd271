"""Allen Cell Types electrophysiology tables: loading with validation, label mapping, feature sets, the chapter's two
tasks as arrays (:func:`ei_data`, :func:`cre5_data`) and a user's own table read row by row
(:func:`read_feature_rows`).

Two sources (see ``data/README`` of the mirror and PROVENANCE.txt):

* the paper authors' exact model inputs (Ophir, Shefi & Lindenbaum 2023): 41 features per cell, mouse (1,424
  cells, the 5 Cre classes already grouped) and human (299 cells); loaded by :func:`load_ophir`;
* the full ACTB tables (2,333 cells: ``ephys_features.csv`` joined to ``cell_types_specimen_details.csv`` on
  specimen id); loaded by :func:`load_actb`.

Labels: dendrite type gives excitatory (spiny) / inhibitory (aspiny) (:func:`ei_label`); Cre lines map to the 5
subclasses of the paper's Figure 4 (:data:`CRE_LINE_TO_CLASS`). Bad input raises :class:`EphysTableError` naming
the file, the column and the row as its CSV line number (the header is line 1).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..datasets import fetch

__all__ = [
    "EphysTableError",
    "FEATURES_41",
    "ACTB_FEATURES",
    "CRE_CLASSES",
    "CRE_LINE_TO_CLASS",
    "EphysTable",
    "load_ophir",
    "load_actb",
    "read_feature_table",
    "ei_label",
    "cre_class",
    "OPHIR_KEYS",
    "EI_CLASSES",
    "SPECIES",
    "TaskData",
    "ei_data",
    "cre5_data",
    "read_feature_rows",
]

OPHIR_KEYS = {
    "mouse": "allen_cell_types/ophir2023_mouse_ephys_data.csv",
    "human": "allen_cell_types/ophir2023_human_ephys_data.csv",
}


class EphysTableError(ValueError):
    """A feature table that cannot be used: names ``path``, ``column``, ``line`` (CSV line number, header = 1)."""

    def __init__(self, path, column: str | None, line: int | None, reason: str):
        self.path, self.column, self.line, self.reason = Path(path), column, line, reason
        where = f"{path}"
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {reason}")


#: The 41 features of the paper's model input, in the authors' column order: 14 per-spike means from a noise sweep
#: (exist only in the authors' files) and 27 copied from the ACTB ephys feature table (units: mV, pA, ms/s, MOhm).
FEATURES_41 = [
    "threshold_v", "threshold_i", "peak_v", "peak_i", "trough_v", "trough_i", "upstroke", "upstroke_v",
    "downstroke", "downstroke_v", "fast_trough_v", "fast_trough_i", "width", "upstroke_downstroke_ratio",
    "f_i_curve_slope", "fast_trough_v_long_square", "fast_trough_v_ramp", "fast_trough_v_short_square",
    "input_resistance_mohm", "latency", "peak_v_long_square", "peak_v_ramp", "peak_v_short_square", "ri", "sag",
    "seal_gohm", "tau", "threshold_i_long_square", "threshold_i_ramp", "threshold_i_short_square",
    "threshold_v_long_square", "threshold_v_ramp", "threshold_v_short_square", "trough_v_long_square",
    "trough_v_ramp", "trough_v_short_square", "upstroke_downstroke_ratio_long_square",
    "upstroke_downstroke_ratio_ramp", "upstroke_downstroke_ratio_short_square", "vm_for_sag", "vrest",
]

#: The 27 of the 41 that the ACTB ephys feature table has (identical values), plus rheobase-related and firing
#: features the ACTB table adds. Used with :func:`load_actb`.
ACTB_FEATURES = FEATURES_41[14:] + ["adaptation", "avg_isi", "has_burst", "has_delay", "has_pause",
                                    "rheobase_sweep_number"]

#: The paper's 5 mouse Cre classes (Figure 4), in display order.
CRE_CLASSES = ["Glutamatergic", "Pvalb", "Htr3a+|Vip-", "Sst", "Vip"]

_OPHIR_CLASS = {"Glutamatergic": "Glutamatergic", "Pvalb+": "Pvalb", "Htr3a+|Vip-": "Htr3a+|Vip-",
                "Sst+": "Sst", "Vip+": "Vip"}

#: ACTB ``line_name`` -> one of :data:`CRE_CLASSES`, or ``None`` for a known line outside the 5 classes (mixed or
#: intersectional populations the authors left out). Reproduces the authors' grouping exactly (all 1,424 mouse cells
#: of their file). An unlisted line raises :class:`EphysTableError`.
CRE_LINE_TO_CLASS: dict[str, str | None] = {
    # glutamatergic lines
    **{k: "Glutamatergic" for k in [
        "Ctgf-T2A-dgCre", "Cux2-CreERT2", "Esr2-IRES2-Cre", "Esr2-IRES2-Cre-neo", "Esr2-IRES2-Cre-neo|PhiC31-neo",
        "Esr2-IRES2-Cre|PhiC31-neo", "Glt25d2-Cre_NF107", "Nr5a1-Cre", "Ntsr1-Cre_GN220", "Rbp4-Cre_KL100",
        "Rorb-IRES2-Cre", "Scnn1a-Tg2-Cre", "Scnn1a-Tg3-Cre", "Sim1-Cre_KJ18", "Tlx3-Cre_PL56", "Slc17a6-IRES-Cre"]},
    # GABAergic subclasses
    "Pvalb-IRES-Cre": "Pvalb", "Nkx2-1-CreERT2": "Pvalb", "Slc32a1-T2A-FlpO|Vipr2-IRES2-Cre": "Pvalb",
    "Pvalb-T2A-CreERT2": "Pvalb",
    "Sst-IRES-Cre": "Sst", "Chrna2-Cre_OE25": "Sst", "Nos1-CreERT2": "Sst", "Nos1-CreERT2|Sst-IRES-FlpO": "Sst",
    "Oxtr-T2A-Cre": "Sst",
    "Vip-IRES-Cre": "Vip", "Chat-IRES-Cre-neo": "Vip",
    "Htr3a-Cre_NO152": "Htr3a+|Vip-", "Ndnf-IRES2-dgCre": "Htr3a+|Vip-", "Gad2-IRES-Cre": "Htr3a+|Vip-",
    # known lines outside the 5 classes
    "Vipr2-IRES2-Cre": None, "Vipr2-IRES2-Cre-neo": None, "Penk-IRES2-Cre-neo": None, "Gng7-Cre_KH71": None,
    "Htr3a-Cre_NO152|Pvalb-T2A-Dre": None, "Chrna2-Cre_OE25|Pvalb-T2A-Dre": None,
    "Pvalb-T2A-FlpO|Vipr2-IRES2-Cre": None,
}

_EI = {"spiny": "excitatory", "aspiny": "inhibitory"}


@dataclass
class EphysTable:
    """A loaded table: ``features`` (n_cells, n_features) DataFrame indexed by ``specimen_id``, ``meta`` (labels,
    layer, ...) with the same index, and ``info`` (source file, rows read, rows skipped and why, missing values)."""

    features: pd.DataFrame
    meta: pd.DataFrame
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.features)


def _line(row_pos: int) -> int:
    return row_pos + 2  # header is CSV line 1


def read_feature_table(path: str | Path, features: list[str], *, id_column: str, label_columns: list[str] = ()
                       ) -> pd.DataFrame:
    """Read a CSV and validate it: every column of ``features``/``label_columns``/``id_column`` present, every feature
    numeric (blank = missing is allowed), ids unique. Raises :class:`EphysTableError` with file, line and column."""
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise EphysTableError(path, None, None, f"not a readable CSV table ({err})") from err
    return _validate(raw, path, features, id_column=id_column, label_columns=label_columns)


def _validate(raw: pd.DataFrame, path: Path, features, *, id_column, label_columns=()) -> pd.DataFrame:
    need = [id_column, *label_columns, *features]
    missing = [c for c in need if c not in raw.columns]
    if missing:
        raise EphysTableError(path, missing[0], 1, f"missing column(s) {missing}; the header has {len(raw.columns)} "
                                                   f"columns")
    out = pd.DataFrame(index=raw.index)
    for col in features:
        text = raw[col].str.strip()
        blank = text.isin(["", "nan", "NaN", "NA"])
        num = pd.to_numeric(text.where(~blank), errors="coerce")
        bad = num.isna() & ~blank
        if bad.any():
            pos = int(np.flatnonzero(bad.to_numpy())[0])
            raise EphysTableError(path, col, _line(pos), f"value {raw[col].iloc[pos]!r} is not a number "
                                                         f"({int(bad.sum())} such value(s) in this column)")
        out[col] = num.astype(float)
    for col in [id_column, *label_columns]:
        out[col] = raw[col]
    ids = out[id_column]
    dup = ids.duplicated(keep=False)
    if dup.any():
        pos = np.flatnonzero(dup.to_numpy())
        raise EphysTableError(path, id_column, _line(int(pos[1])),
                              f"duplicated specimen id {ids.iloc[pos[0]]!r} (lines {[_line(int(p)) for p in pos[:4]]})")
    return out


def load_ophir(species: str, path: str | Path | None = None) -> EphysTable:
    """Load the authors' 41-feature table for ``species`` ("mouse" or "human").

    Returns an :class:`EphysTable` indexed by ``specimen_id`` (parsed from ``file_name`` = ``<id>_<sweep>``), with
    ``meta`` columns ``species``, ``dendrite_type``, ``ei`` (excitatory/inhibitory), ``layer`` (the authors' 6a/6b
    swap undone) and, for mouse, ``cre_class`` (one of :data:`CRE_CLASSES`) and ``reporter_status``.
    ``path`` overrides the registry file (tests). ``info["missing"]`` counts missing feature values per column.

    Raises :class:`EphysTableError` for a missing column, a non-numeric feature, an unknown Cre class, an unknown
    dendrite type or a duplicated specimen id.
    """
    if species not in OPHIR_KEYS:
        raise ValueError(f"species must be 'mouse' or 'human', got {species!r}")
    path = Path(path) if path else fetch(OPHIR_KEYS[species])
    labels = ["dendrite_type", "layer"] + (["transgenic_line", "reporter_status"] if species == "mouse" else [])
    df = read_feature_table(path, FEATURES_41, id_column="file_name", label_columns=labels)
    ids = df["file_name"].str.split("_").str[0]
    if not ids.str.fullmatch(r"\d+").all():
        pos = int(np.flatnonzero(~ids.str.fullmatch(r"\d+").to_numpy())[0])
        raise EphysTableError(path, "file_name", _line(pos),
                              f"{df['file_name'].iloc[pos]!r} is not '<specimen_id>_<sweep>'")
    df["specimen_id"] = ids.astype(np.int64)
    dup = df["specimen_id"].duplicated(keep=False)
    if dup.any():
        pos = np.flatnonzero(dup.to_numpy())
        raise EphysTableError(path, "file_name", _line(int(pos[1])),
                              f"duplicated specimen id {df['specimen_id'].iloc[pos[0]]} (lines "
                              f"{[_line(int(p)) for p in pos[:4]]})")
    meta = pd.DataFrame({"species": species}, index=df.index)
    meta["dendrite_type"] = df["dendrite_type"]
    meta["ei"] = [ei_label(v, path=path, line=_line(i)) for i, v in enumerate(df["dendrite_type"])]
    meta["layer"] = df["layer"].str.replace("L", "", regex=False).replace({"6a": "6b", "6b": "6a"})
    if species == "mouse":
        cls = df["transgenic_line"].map(_OPHIR_CLASS)
        if cls.isna().any():
            pos = int(np.flatnonzero(cls.isna().to_numpy())[0])
            raise EphysTableError(path, "transgenic_line", _line(pos),
                                  f"unknown Cre class {df['transgenic_line'].iloc[pos]!r}; expected one of "
                                  f"{sorted(_OPHIR_CLASS)}")
        meta["cre_class"] = cls
        meta["reporter_status"] = df["reporter_status"]
    feats = df[FEATURES_41].copy()
    feats.index = df["specimen_id"].to_numpy()
    meta.index = feats.index
    feats.index.name = meta.index.name = "specimen_id"
    info = {"file": str(path), "rows": len(df), "skipped": 0,
            "missing": {c: int(n) for c, n in feats.isna().sum().items() if n}}
    return EphysTable(feats, meta, info)


def ei_label(dendrite_type: str, *, path=None, line=None) -> str:
    """``"spiny"`` -> ``"excitatory"``, ``"aspiny"`` -> ``"inhibitory"``; anything else raises EphysTableError
    (``"sparsely spiny"`` cells are dropped by the loaders *before* this, and counted)."""
    try:
        return _EI[str(dendrite_type).strip()]
    except KeyError:
        raise EphysTableError(path or "<table>", "dendrite_type", line,
                              f"unknown dendrite type {dendrite_type!r}; expected 'spiny' or 'aspiny'") from None


def cre_class(line_name: str, *, path=None, line=None) -> str | None:
    """Map an ACTB Cre ``line_name`` to one of :data:`CRE_CLASSES` (or ``None`` for a known line outside them).
    Raises :class:`EphysTableError` for a line this mapping does not know."""
    if line_name not in CRE_LINE_TO_CLASS:
        raise EphysTableError(path or "<table>", "line_name", line,
                              f"unknown Cre line {line_name!r}; add it to neuro_lib.ephys.CRE_LINE_TO_CLASS")
    return CRE_LINE_TO_CLASS[line_name]


def load_actb(features_path=None, details_path=None) -> EphysTable:
    """Load the full ACTB tables (2,333 cells): ephys features joined to the specimen details on specimen id.

    ``meta`` has ``species`` ("mouse"/"human"), ``dendrite_type``, ``ei`` (NaN for sparsely spiny cells, which are
    kept but counted in ``info["sparsely_spiny"]``), ``line_name``, ``cre_class`` (mouse only; ``None`` for lines
    outside the 5 classes) and ``layer``. Features: :data:`ACTB_FEATURES`.
    Raises :class:`EphysTableError` for bad values, duplicated ids, unknown Cre lines or ids that do not join.
    """
    fpath = Path(features_path) if features_path else fetch("allen_cell_types/ephys_features.csv")
    dpath = Path(details_path) if details_path else fetch("allen_cell_types/cell_types_specimen_details.csv")
    bool_cols = ["has_burst", "has_delay", "has_pause"]
    raw = pd.read_csv(fpath, dtype=str, keep_default_na=False)
    for c in bool_cols:
        if c in raw.columns:
            raw[c] = raw[c].map({"True": "1", "False": "0", "true": "1", "false": "0"}).fillna(raw[c])
    feats = _validate(raw, fpath, ACTB_FEATURES, id_column="specimen_id")
    feats["specimen_id"] = feats["specimen_id"].astype(np.int64)
    details = read_feature_table(dpath, [], id_column="specimen__id",
                                 label_columns=["donor__species", "tag__dendrite_type", "line_name",
                                                "structure__layer"])
    details["specimen__id"] = details["specimen__id"].astype(np.int64)
    j = feats.merge(details, left_on="specimen_id", right_on="specimen__id", how="left", indicator=True)
    if (j["_merge"] != "both").any():
        pos = int(np.flatnonzero((j["_merge"] != "both").to_numpy())[0])
        raise EphysTableError(fpath, "specimen_id", _line(pos),
                              f"specimen {j['specimen_id'].iloc[pos]} has no row in {dpath.name}")
    species = j["donor__species"].map({"Mus musculus": "mouse", "Homo Sapiens": "human"})
    meta = pd.DataFrame({"species": species.to_numpy()}, index=j["specimen_id"].to_numpy())
    meta["dendrite_type"] = j["tag__dendrite_type"].to_numpy()
    meta["ei"] = meta["dendrite_type"].map(_EI)
    meta["line_name"] = j["line_name"].replace("", np.nan).to_numpy()
    classes = []
    for sp, ln in zip(meta["species"], meta["line_name"]):
        classes.append(cre_class(ln, path=dpath, line=None) if sp == "mouse" and isinstance(ln, str) else None)
    meta["cre_class"] = classes
    meta["layer"] = j["structure__layer"].to_numpy()
    X = j[ACTB_FEATURES].copy()
    X.index = meta.index
    X.index.name = meta.index.name = "specimen_id"
    n_sparse = int((meta["dendrite_type"] == "sparsely spiny").sum())
    if n_sparse:
        warnings.warn(f"{n_sparse} sparsely spiny cells have no E/I label (ei = NaN); they are kept but counted",
                      stacklevel=2)
    info = {"file": f"{fpath} + {dpath}", "rows": len(X), "sparsely_spiny": n_sparse, "skipped": 0,
            "missing": {c: int(n) for c, n in X.isna().sum().items() if n}}
    return EphysTable(X, meta, info)


# ---------------------------------------------------------------------------------------------------------------
# The chapter's two tasks as arrays
# ---------------------------------------------------------------------------------------------------------------

#: E/I class names in the order of their integer codes (0 = inhibitory, 1 = excitatory), the codes every model of the
#: E/I task is trained on.
EI_CLASSES = ["inhibitory", "excitatory"]

#: Domain codes of the E/I task: 0 = mouse (the source domain), 1 = human (the target).
SPECIES = ["mouse", "human"]


@dataclass
class TaskData:
    """One task's cells as arrays.

    ``X`` (n, 41) float64 features in :data:`FEATURES_41` order (NaN = missing); ``y`` (n,) int64 class codes, the
    positions of ``class_names`` (E/I: :data:`EI_CLASSES`; Cre: :data:`CRE_CLASSES`); ``species`` (n,) "mouse" or
    "human"; ``domain`` (n,) int64 (0 mouse, 1 human); ``specimen_id`` (n,) int64; ``complete`` (n,) bool, the cells
    without a missing feature.
    """

    task: str
    X: np.ndarray
    y: np.ndarray
    class_names: list
    species: np.ndarray
    domain: np.ndarray
    specimen_id: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    @property
    def complete(self) -> np.ndarray:
        return ~np.isnan(self.X).any(axis=1)

    @property
    def names(self) -> np.ndarray:
        """(n,) class name of every cell."""
        return np.asarray(self.class_names, dtype=object)[self.y]


def ei_data(mouse: EphysTable | None = None, human: EphysTable | None = None) -> TaskData:
    """Excitatory (spiny) against inhibitory (aspiny): the 1,424 mouse cells, then the 299 human cells of the authors'
    files (:func:`load_ophir`), ``y`` = 1 for excitatory (:data:`EI_CLASSES`), ``domain`` 0 mouse / 1 human."""
    mouse = load_ophir("mouse") if mouse is None else mouse
    human = load_ophir("human") if human is None else human
    X = np.vstack([mouse.features.to_numpy(dtype=float), human.features.to_numpy(dtype=float)])
    y = np.r_[mouse.meta["ei"] == "excitatory", human.meta["ei"] == "excitatory"].astype(np.int64)
    domain = np.r_[np.zeros(len(mouse), np.int64), np.ones(len(human), np.int64)]
    return TaskData("ei", X, y, list(EI_CLASSES), np.asarray(SPECIES)[domain], domain,
                    np.r_[mouse.features.index.to_numpy(), human.features.index.to_numpy()].astype(np.int64))


def cre5_data(mouse: EphysTable | None = None) -> TaskData:
    """The five mouse Cre classes of the paper's Figure 4 (:data:`CRE_CLASSES`, codes in that order) on the 1,424 mouse
    cells of the authors' file."""
    mouse = load_ophir("mouse") if mouse is None else mouse
    y = np.array([CRE_CLASSES.index(c) for c in mouse.meta["cre_class"]], dtype=np.int64)
    n = len(mouse)
    return TaskData("cre5", mouse.features.to_numpy(dtype=float), y, list(CRE_CLASSES), np.full(n, "mouse"),
                    np.zeros(n, np.int64), mouse.features.index.to_numpy().astype(np.int64))


# ---------------------------------------------------------------------------------------------------------------
# A user's own cells (neuro_lib.predict): row by row, so one bad row does not stop the others
# ---------------------------------------------------------------------------------------------------------------

_ID_COLUMNS = ("specimen_id", "file_name", "cell_id", "id")


def read_feature_rows(path: str | Path, features: list[str] = FEATURES_41):
    """Read a user's CSV of cells (one a row, a header naming at least the ``features`` columns, any order, other
    columns ignored) for classification.

    Returns ``(ids, X, errors)``: ``ids`` one per data row, ``"<path>:<line>"`` (CSV line, header = 1) plus the
    cell's id when the table has a ``specimen_id``, ``file_name``, ``cell_id`` or ``id`` column; ``X`` (n_rows, 41)
    float64 (blank = missing, NaN; the models impute it); ``errors`` ``{row position: message}`` for the rows that
    cannot be used: a value that is not a number (the :class:`EphysTableError` message names the file, line and
    column) or no feature value at all. A file that cannot be used at all (not a CSV table, no data rows, a missing
    column) raises :class:`EphysTableError` naming the file (and the column).
    """
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise EphysTableError(path, None, None, f"not a readable CSV table ({err})") from err
    missing = [c for c in features if c not in raw.columns]
    if missing:
        raise EphysTableError(path, missing[0], 1, f"missing column(s) {missing}; the table needs the 41 feature "
                                                   f"columns of neuro_lib.ephys.FEATURES_41")
    if raw.empty:
        raise EphysTableError(path, None, None, "no data rows under the header")
    id_col = next((c for c in _ID_COLUMNS if c in raw.columns), None)
    ids = [f"{path}:{_line(i)}" + (f":{raw[id_col].iloc[i]}" if id_col else "") for i in range(len(raw))]
    X = np.full((len(raw), len(features)), np.nan)
    errors: dict[int, str] = {}
    for j, col in enumerate(features):
        text = raw[col].str.strip()
        blank = text.isin(["", "nan", "NaN", "NA"])
        num = pd.to_numeric(text.where(~blank), errors="coerce")
        bad = num.isna() & ~blank
        for pos in np.flatnonzero(bad.to_numpy()):
            errors.setdefault(int(pos), str(EphysTableError(path, col, _line(int(pos)),
                                                            f"value {raw[col].iloc[pos]!r} is not a number")))
        X[:, j] = num.to_numpy(dtype=float)
    for pos in np.flatnonzero(np.isnan(X).all(axis=1)):
        errors.setdefault(int(pos), str(EphysTableError(path, None, _line(int(pos)), "no feature value in this row")))
    return ids, X, errors
