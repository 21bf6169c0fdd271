"""Views and OnView (one X for every model), and the chapter's set of models cross-validated end to end on tiny
virtual cells: one driver, the fusions reusing the branches' cached fits, the keep= extras of the t-SNE page."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from neuro_lib import evaluation as ev
from neuro_lib.morphology.neurites import neurite_gb
from neuro_lib.morphology.views import OnView, Views


def test_views_index_like_one_array():
    v = Views(features=np.arange(10.0).reshape(5, 2), trees=list("abcde"))
    assert len(v) == 5 and "trees" in v and v.names == ["features", "trees"]
    sub = v[np.array([3, 1])]
    assert sub["trees"] == ["d", "b"] and sub["features"].tolist() == [[6, 7], [2, 3]]
    with pytest.raises(KeyError, match="these cells have"):
        v["images"]
    with pytest.raises(ValueError, match="different lengths"):
        Views(a=np.zeros(3), b=[1])


class _Records(LogisticRegression):
    def fit(self, X, y, X_val=None, y_val=None):
        self.n_fit_, self.n_val_ = len(X), None if X_val is None else len(X_val)
        return super().fit(X, y)


def test_onview_routes_validation_cells_by_the_books_convention():
    rng = np.random.default_rng(0)
    y = np.arange(40) % 2
    v = Views(features=np.c_[y + rng.normal(scale=0.2, size=40), rng.normal(size=40)])
    with_val = OnView("features", _Records()).fit(v[np.arange(30)], y[:30], v[np.arange(30, 40)], y[30:])
    assert (with_val.estimator_.n_fit_, with_val.estimator_.n_val_) == (30, 10)
    # scikit-learn's HistGradientBoosting names X_val but refuses it without early stopping: it gets train + val
    gb = OnView("features", neurite_gb(max_iter=5)).fit(v[np.arange(30)], y[:30], v[np.arange(30, 40)], y[30:])
    assert gb.estimator_.n_iter_ == 5 and gb.predict_proba(v).shape == (40, 2)
    plain = OnView("features", LogisticRegression()).fit(v["features"], y)  # a plain input is passed on
    assert (plain.predict(v) == plain.predict(v["features"])).all()


@pytest.fixture(scope="module")
def virtual_views():
    from neuro_lib.morphology.features import feature_table
    from neuro_lib.morphology.projections import project_many
    from neuro_lib.morphology.synthetic import virtual_dataset
    from neuro_lib.morphology.tree import reduce_tree

    cells, labels = virtual_dataset(12, seed=0)
    return Views(features=feature_table(cells).to_numpy(), images=project_many(cells, 16),
                 trees=[reduce_tree(c.xyz, c.radius, c.parent, c.types) for c in cells]), labels


@pytest.mark.usefixtures("one_torch_thread")
def test_every_chapter_model_over_one_driver_with_shared_branch_fits(virtual_views, tmp_path, monkeypatch):
    from neuro_lib.estimators import TorchClassifier
    from neuro_lib.morphology import chapter, experiment

    monkeypatch.setenv("NEURO_LIB_CACHE", str(tmp_path))
    views, y = virtual_views
    cfg = chapter.settings("smoke", max_len=20)
    models = experiment.chapter_models(cfg, names=["svm", "cnn", "lstm", "tree_lstm", "fusion_mlp", "fusion"])
    splits = ev.kfold_splits(y, 2, seed=0, val_fraction=0.25)
    fits = []
    real_fit = TorchClassifier.fit
    monkeypatch.setattr(TorchClassifier, "fit", lambda self, *a, **k: (fits.append(type(self).__name__),
                                                                       real_fit(self, *a, **k))[1])
    res = ev.cross_validate(models, views, y, splits, seed=5, progress=False)
    # each branch trained once per split; the fusions' branches came from the cache; each MLP head trained
    assert sorted(fits) == sorted(["ProjectionCNN", "LSTMClassifier", "TreeLSTMClassifier", "MLPFusion"] * 2)
    for name, r in res.items():
        assert len(r.proba) == 2 and np.allclose(np.concatenate(r.proba).sum(1), 1, atol=1e-6), name
    # the t-SNE page's extras: every cell's feature from the split that tested it
    again = ev.cross_validate(experiment.chapter_models(cfg, names=["tree_lstm"]), views, y, splits, seed=5,
                              progress=False, keep=experiment.keep_features(views))
    oof = experiment.out_of_fold(again["tree_lstm"])
    assert oof.shape == (len(y), 128)
    assert np.array_equal(again["tree_lstm"].fold_values(), res["tree_lstm"].fold_values())


@pytest.mark.usefixtures("one_torch_thread")
def test_max_steps_caps_every_network_fit_and_none_changes_nothing(virtual_views):
    from neuro_lib.morphology import chapter, experiment
    from neuro_lib.morphology.experiment import unwrap

    views, y = virtual_views
    tr, va = np.flatnonzero(np.arange(len(y)) % 3 != 0), np.flatnonzero(np.arange(len(y)) % 3 == 0)
    for max_steps in (None, 1):
        cfg = chapter.settings("smoke", max_len=20, cnn_epochs=3, tree_epochs=3, lstm_epochs=3, cnn_batch_size=4,
                               max_steps=max_steps)
        cfg["patience"] = cfg["cnn_patience"] = None  # no early stopping (None as an override keeps the profile's)
        models = experiment.chapter_models(cfg, cache=False, names=["cnn", "lstm", "tree_lstm", "fusion_mlp"])
        for name, est in models.items():
            est.fit(views[tr], y[tr], X_val=views[va], y_val=y[va])
            net = unwrap(est)
            epochs = len(net.history_.train_loss)
            if max_steps is None:  # not capped: every epoch ran (the fusion head: its 100 epochs on the val cells)
                assert epochs == (100 if name == "fusion_mlp" else 3), name
            else:  # one optimisation step in all: the first epoch stops after it
                assert epochs == 1, name
