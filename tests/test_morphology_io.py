"""SWC reading and validation (neuro_lib.morphology.io): every malformed case of the issue raises SWCError with the
line, gzip input, re-ordering, fragments, the directory loader, NeuroM hand-over, and a property test on corrupted
text; plus the chapter's data layer (tasks, splits)."""
from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neuro_lib.morphology.io import SWC, SWCError, load_directory, parse_swc, read_swc, to_neurom, write_swc

FIX = Path(__file__).resolve().parents[1] / "data" / "fixtures" / "morphology"
GOOD = """# a comment
1 1 0 0 0 5 -1
2 3 0 10 0 1 1
3 3 0 20 0 1 2
4 3 5 25 0 0.5 3
5 3 -5 25 0 0.5 3
"""


def test_reads_fixture_with_three_point_soma():
    s = read_swc(FIX / "y_cell.swc")
    assert len(s) == 13
    assert s.types[:3].tolist() == [1, 1, 1]
    assert s.parent[0] == -1 and np.all(s.parent[1:] < np.arange(1, 13))
    assert s.xyz.shape == (13, 3) and s.radius.dtype == float
    assert s.ids.tolist() == list(range(1, 14))


def test_gzip_is_read(tmp_path):
    p = tmp_path / "cell.swc.gz"
    with gzip.open(p, "wt") as fh:
        fh.write((FIX / "y_cell.swc").read_text())
    a, b = read_swc(p), read_swc(FIX / "y_cell.swc")
    np.testing.assert_array_equal(a.xyz, b.xyz)
    np.testing.assert_array_equal(a.parent, b.parent)


def test_children_before_parents_are_reordered():
    text = "3 3 0 20 0 1 2\n2 3 0 10 0 1 1\n1 1 0 0 0 5 -1\n"
    s = parse_swc(text)
    assert s.ids.tolist() == [1, 2, 3]
    assert s.parent.tolist() == [-1, 0, 1]
    assert s.lines.tolist() == [3, 2, 1]  # file lines follow the samples


@pytest.mark.parametrize("text, line, words", [
    (GOOD.replace("2 3 0 10 0 1 1", "2 3 0 ten 0 1 1"), 3, "not a number"),
    (GOOD.replace("2 3 0 10 0 1 1", "2 3 0 10 0 1"), 3, "6 fields, expected 7"),
    (GOOD.replace("2 3 0 10 0 1 1", "2 3 0 10 0 1 1 9"), 3, "8 fields"),
    (GOOD.replace("3 3 0 20 0 1 2", "2 3 0 20 0 1 2"), 4, "duplicate id 2"),
    (GOOD.replace("4 3 5 25 0 0.5 3", "4 3 5 25 0 0.5 42"), 5, "parent id 42"),
    (GOOD.replace("3 3 0 20 0 1 2", "3 3 0 20 0 1 5").replace("5 3 -5 25 0 0.5 3", "5 3 -5 25 0 0.5 4")
     .replace("4 3 5 25 0 0.5 3", "4 3 5 25 0 0.5 3"), 4, "cycle"),
    (GOOD.replace("4 3 5 25 0 0.5 3", "4 3 5 25 0 0.5 -1"), 5, "2 roots"),
    (GOOD.replace("1 1 0 0 0 5 -1", "1 3 0 0 0 5 -1"), None, "no soma"),
    (GOOD.replace("2 3 0 10 0 1 1", "2 3 0 10 0 -1 1"), 3, "negative radius"),
    (GOOD.replace("2 3 0 10 0 1 1", "2 3 0 10 0 nan 1"), 3, "finite"),
    (GOOD.replace("2 3 0 10 0 1 1", "2.5 3 0 10 0 1 1"), 3, "integer"),
    (GOOD.replace("2 3 0 10 0 1 1", "2 3 0 10 0 1 2"), 3, "own parent"),
    ("# only comments\n\n", None, "no data lines"),
])
def test_malformed_cases_raise_swcerror_with_line(text, line, words, tmp_path):
    p = tmp_path / "bad.swc"
    p.write_text(text)
    with pytest.raises(SWCError) as info:
        read_swc(p)
    err = info.value
    assert err.line == line
    assert words in err.reason
    assert str(p) in str(err)


def test_cycle_without_root_is_reported():
    with pytest.raises(SWCError, match="no root"):
        parse_swc("1 1 0 0 0 1 2\n2 3 1 0 0 1 1\n")


def test_fragments_are_dropped_and_counted_on_request():
    text = GOOD + "6 2 50 50 0 0.2 -1\n7 2 55 50 0 0.2 6\n"
    with pytest.raises(SWCError, match="2 roots"):
        parse_swc(text)
    s = parse_swc(text, drop_fragments=True)
    assert len(s) == 5 and s.n_skipped == 2 and s.metadata["dropped_fragments"] == 1
    assert s.metadata["dropped_samples"] == 2


@pytest.mark.parametrize("drop_fragments", [False, True])
def test_a_cycle_is_an_error_whatever_drop_fragments_says(drop_fragments, tmp_path):
    """Issue 17, section 4: with drop_fragments=True a cycle used to become a soma-only cell with 0 fragments
    reported; it is an error, naming the first sample of the cycle and its line."""
    p = tmp_path / "cycle.swc"
    p.write_text("# header\n1 1 0 0 0 1 -1\n2 3 1 0 0 1 4\n3 3 2 0 0 1 2\n4 3 3 0 0 1 3\n")
    with pytest.raises(SWCError) as info:
        read_swc(p, drop_fragments=drop_fragments)
    assert info.value.line == 3 and "cycle of parent links (2 -> 4 -> 3 -> 2)" in info.value.reason
    assert "3 sample(s)" in info.value.reason and str(p) in str(info.value)


def test_float_id_message_prints_the_number():
    with pytest.raises(SWCError, match=r"id is 3\.5, expected an integer"):
        parse_swc("1 1 0 0 0 1 -1\n3.5 3 0 0 0 1 1\n")


def test_write_read_roundtrip(tmp_path):
    s = read_swc(FIX / "y_cell.swc")
    write_swc(s, tmp_path / "out.swc.gz")
    t = read_swc(tmp_path / "out.swc.gz")
    np.testing.assert_allclose(t.xyz, s.xyz, atol=1e-4)
    np.testing.assert_array_equal(t.parent, s.parent)


def test_load_directory_raises_or_skips(tmp_path):
    (tmp_path / "a.swc").write_text(GOOD)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.swc").write_text(GOOD.replace("1 1 0 0 0 5 -1", "1 1 0 0 0 -5 -1"))
    (tmp_path / "c.swc").write_text("garbage\n")
    with pytest.raises(SWCError):
        load_directory(tmp_path)
    with pytest.warns(UserWarning, match="skipped 2 of 3"):
        rep = load_directory(tmp_path, on_error="skip")
    assert len(rep.cells) == 1 and rep.n_skipped == 2
    assert any("negative radius" in r for r in rep.skipped.values())
    with pytest.raises(ValueError):
        load_directory(tmp_path, on_error="ignore")


def test_to_neurom_handles_three_point_soma():
    import neurom as nm

    m = to_neurom(read_swc(FIX / "y_cell.swc"))
    assert type(m.soma).__name__ == "SomaNeuromorphoThreePointCylinders"
    assert nm.get("number_of_neurites", m) == 2
    assert nm.get("soma_surface_area", m) == pytest.approx(4 * np.pi * 25, rel=1e-3)


def test_to_neurom_rejects_malformed_path(tmp_path):
    p = tmp_path / "bad.swc"
    p.write_text(GOOD.replace("4 3 5 25 0 0.5 3", "4 3 5 25 0 0.5 99"))
    with pytest.raises(SWCError):
        to_neurom(p)


_tokens = st.sampled_from(["1", "-1", "0", "3", "2.5", "x", "", " ", "\n", "#", "nan", "1e400", "-0", "7", "1 1",
                           "99999999999999999999", "\t", "\r\n", "\x00", "é"])


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 3), _tokens), min_size=1, max_size=8))
def test_corrupted_swc_loads_or_raises_swcerror(ops):
    """Random edits of a valid file: the parser returns a valid tree or raises SWCError, nothing else."""
    text = (FIX / "y_cell.swc").read_text()
    for pos, kind, tok in ops:
        pos %= len(text) + 1
        if kind == 0:
            text = text[:pos] + tok + text[pos:]
        elif kind == 1:
            text = text[:pos] + text[pos + len(tok) + 1:]
        elif kind == 2:
            text = text[:pos] + tok + text[pos + 1:]
        else:  # duplicate a whole line
            lines = text.split("\n")
            i = pos % len(lines)
            lines.insert(i, lines[i])
            text = "\n".join(lines)
    try:
        s = parse_swc(text)
    except SWCError:
        return
    assert isinstance(s, SWC)
    n = len(s)
    assert n >= 1 and s.parent[0] == -1
    assert np.all(s.parent[1:] < np.arange(1, n)) and np.all(s.parent[1:] >= 0)
    assert len(np.unique(s.ids)) == n and (s.types == 1).any() and (s.radius >= 0).all()
    assert np.isfinite(s.xyz).all()


def _swc_text(parent, types, order):
    """SWC text of a tree given as row parents (-1 roots), written in the row order ``order`` (ids = row + 1)."""
    return "".join(f"{i + 1} {types[i]} {i} {2 * i} 0 1 {parent[i] + 1 if parent[i] >= 0 else -1}\n" for i in order)


@st.composite
def _tree_with_cycle(draw):
    n = draw(st.integers(3, 40))
    parent = [-1] + [draw(st.integers(0, i - 1)) for i in range(1, n)]
    members = draw(st.lists(st.integers(1, n - 1), min_size=2, max_size=min(6, n - 1), unique=True))
    for a, b in zip(members, members[1:] + members[:1]):
        parent[a] = b
    order = draw(st.permutations(range(n)))
    return parent, members, order


@settings(max_examples=150, deadline=2000)
@given(case=_tree_with_cycle(), drop=st.booleans())
def test_any_cycle_raises_with_the_line_of_a_sample_on_it(case, drop):
    parent, members, order = case
    types = [1] + [3] * (len(parent) - 1)
    with pytest.raises(SWCError) as info:
        parse_swc(_swc_text(parent, types, order), drop_fragments=drop)
    line_of_row = {row: k + 1 for k, row in enumerate(order)}
    assert "cycle" in info.value.reason
    assert info.value.line in {line_of_row[m] for m in members}


@st.composite
def _forest(draw):
    """A soma tree plus fragments (axon pieces with roots of their own), rows shuffled."""
    sizes = draw(st.lists(st.integers(1, 15), min_size=2, max_size=6))
    parent, types = [], []
    for t, size in enumerate(sizes):
        base = len(parent)
        parent += [-1] + [base + draw(st.integers(0, i - 1)) for i in range(1, size)]
        types += ([1] if t == 0 else [2]) + [3 if t == 0 else 2] * (size - 1)
    return parent, types, sizes, draw(st.permutations(range(len(parent))))


@settings(max_examples=150, deadline=2000)
@given(case=_forest())
def test_dropped_fragments_and_samples_are_counted(case):
    parent, types, sizes, order = case
    text = _swc_text(parent, types, order)
    with pytest.raises(SWCError, match="roots"):
        parse_swc(text)
    s = parse_swc(text, drop_fragments=True)
    assert len(s) == sizes[0] and s.n_skipped == sum(sizes[1:])
    assert s.metadata["dropped_fragments"] == len(sizes) - 1 and s.metadata["dropped_samples"] == sum(sizes[1:])
    assert (s.types[1:] == 3).all() and s.types[0] == 1


# ---- data layer (real data through the fetch layer) -------------------------------------------------------------

@pytest.fixture(scope="module")
def two_class(data_mirror):
    from neuro_lib.morphology import data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return data.cells("rat_s1_2class")


def test_two_class_task(two_class):
    df = two_class
    assert {"cell_id", "path", "label", "source"} <= set(df.columns)
    assert set(df["label"]) == {"principal", "interneuron"}
    assert df["cell_id"].is_unique
    assert 1300 <= len(df) <= 1360  # ~1,360 labelled, minus 9 conflicts and a few malformed files
    assert set(df["source"]) == {"rat_s1_markram", "rat_s1_vasques"}
    assert all(Path(p).exists() for p in df["path"].iloc[::100])
    assert len(df.attrs["skipped"]) >= 1  # the malformed files are reported, not silently lost


def test_mtype_and_zhang12_tasks(data_mirror):
    from neuro_lib.morphology import data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = data.cells("rat_s1_mtype")
        z = data.cells("zhang12")
    assert set(m["label"]) == {"PC", "SC", "BC", "MC", "other_IN"} and 420 <= len(m) <= 433
    assert len(set(z["label"])) == 9
    assert not ({"astrocyte", "parachromaffin", "sensory receptor"} & set(z["label"]))
    with pytest.raises(KeyError):
        data.cells("nope")


def test_splits_are_cell_level_stratified_and_seeded(two_class):
    from neuro_lib import evaluation
    from neuro_lib.morphology import data

    df = two_class
    sp = data.splits(df, seed=0)
    assert all(isinstance(s, evaluation.Split) for s in sp) and [s.fold for s in sp] == list(range(5))
    test_all = np.concatenate([s.test for s in sp])
    assert sorted(test_all.tolist()) == list(range(len(df)))  # each cell tested once
    for s in sp:
        frac = (df["label"].iloc[s.test] == "principal").mean()
        assert abs(frac - (df["label"] == "principal").mean()) < 0.03
        assert abs(len(s.val) / (len(s.train) + len(s.val)) - 1 / 9) < 0.01
    # the same folds as the book's kfold_splits (the chapter's own rule only differs for tiny classes)
    assert sp == evaluation.kfold_splits(df["label"].to_numpy(), 5, seed=0, val_fraction=1 / 9)
    p = data.paper_split(df, seed=0)
    assert abs(len(p.train) / len(df) - 0.8) < 0.01 and abs(len(p.test) / len(df) - 0.1) < 0.01
    assert data.splits(df, seed=0) == sp
    other = data.splits(df, seed=1)
    assert not np.array_equal(sp[0].test, other[0].test)


def _lengths(chunk, offset):
    return [len(s) + offset for s in chunk]


def test_map_chunks_keeps_the_order_on_workers_and_in_process():
    from neuro_lib.morphology.batch import map_chunks

    items = [f"cell{i:03d}.swc" for i in range(23)]
    serial = map_chunks(_lengths, items, 1, n_jobs=1, size=5)
    assert [len(p) for p in serial] == [5, 5, 5, 5, 3]
    assert map_chunks(_lengths, items, 1, n_jobs=2, size=5) == serial
    assert [x for p in serial for x in p] == [len(s) + 1 for s in items]
    assert map_chunks(_lengths, [], 0) == []
    with pytest.raises(ValueError, match="size must be at least 1"):
        map_chunks(_lengths, items, 0, size=0)
