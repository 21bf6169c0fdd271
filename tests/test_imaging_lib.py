"""Unit tests of neuro_lib.imaging and the imaging models (synthetic data written by the tests)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from neuro_lib.imaging import (NeurofinderError, centers_metric, detect_cells, extract_patches,
                               load_neurofinder, local_correlation_image, match_centers, pixel_accuracy,
                               probability_target, quadrant_slices, write_neurofinder)

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # as the chapter trains (threads in its profile table)


def _disk(center, radius, shape):
    rr, cc = np.mgrid[:shape[0], :shape[1]]
    return np.argwhere((rr - center[0]) ** 2 + (cc - center[1]) ** 2 <= radius ** 2)


@pytest.fixture
def synthetic(tmp_path):
    rng = np.random.default_rng(0)
    movie = rng.integers(0, 4000, size=(5, 20, 24), dtype=np.uint16)
    rois = [_disk((5, 6), 2, (20, 24)), _disk((14, 17), 3, (20, 24)), np.array([[0, 0], [0, 1]])]
    folder = write_neurofinder(tmp_path / "nf", movie, rois, ids=[10, 11, 12])
    return folder, movie, rois


def test_loader_round_trip(synthetic):
    folder, movie, rois = synthetic
    d = load_neurofinder(folder)
    assert d.movie.dtype == np.uint16 and d.movie.shape == (5, 20, 24)
    np.testing.assert_array_equal(d.movie, movie)
    assert d.roi_ids == [10, 11, 12]
    for got, want in zip(d.rois, rois):
        np.testing.assert_array_equal(got, np.unique(want, axis=0))
    lab = d.labels()
    assert lab[5, 6] == 1 and lab[14, 17] == 2 and lab[0, 1] == 3 and lab[10, 0] == 0
    assert d.masks().shape == (3, 20, 24) and d.masks()[1].sum() == len(rois[1])
    np.testing.assert_allclose(d.centroids()[0], [5, 6])
    assert d.metadata["n_rois"] == 3 and d.metadata["n_duplicate_pixels"] == 0


def _regions(folder, doc):
    (folder / "regions" / "regions.json").write_text(json.dumps(doc))


def test_loader_errors(synthetic):
    folder, movie, rois = synthetic
    _regions(folder, [{"id": 1, "coordinates": [[3, 4], [20, 4]]}])
    with pytest.raises(NeurofinderError, match=r"outside the 20x24 image"):
        load_neurofinder(folder)
    _regions(folder, [{"id": 1, "coordinates": [[3, 4]]}, {"id": 7, "coordinates": []}])
    with pytest.raises(NeurofinderError, match=r"ROI 1, id 7.*empty ROI"):
        load_neurofinder(folder)
    _regions(folder, [{"id": 1, "coordinates": [[3, 4]]}])
    assert len(load_neurofinder(folder).rois) == 1
    import tifffile

    tifffile.imwrite(folder / "images" / "image00002.tiff", np.zeros((20, 25), np.uint16))
    with pytest.raises(NeurofinderError, match=r"image00002.tiff \[2\].*shape \(20, 25\)"):
        load_neurofinder(folder)
    tifffile.imwrite(folder / "images" / "image00002.tiff", np.zeros((20, 24), np.float32))
    with pytest.raises(NeurofinderError, match=r"dtype float32"):
        load_neurofinder(folder)
    (folder / "images" / "image00002.tiff").unlink()
    with pytest.raises(NeurofinderError, match=r"missing \[2\]"):
        load_neurofinder(folder)


def test_local_correlation_matches_direct_numpy():
    rng = np.random.default_rng(1)
    m = rng.normal(size=(30, 7, 9)).astype(np.float32)
    m[:, 2:4, 3:6] += rng.normal(size=(30, 1, 1)).astype(np.float32) * 3  # a correlated blob
    m[:, 6, 8] = 5.0  # a constant pixel: correlation 0 with everything
    got = local_correlation_image(m, chunk=3)
    T, H, W = m.shape
    want = np.zeros((H, W))
    for r in range(H):
        for c in range(W):
            vals = []
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    if (dr or dc) and 0 <= r + dr < H and 0 <= c + dc < W:
                        a, b = m[:, r, c], m[:, r + dr, c + dc]
                        if a.std() == 0 or b.std() == 0:
                            vals.append(0.0)
                        else:
                            vals.append(np.corrcoef(a, b)[0, 1])
            want[r, c] = np.mean(vals)
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert got[2, 4] > 0.5


def test_components_known_centroids():
    mask = np.zeros((40, 50), np.float32)
    mask[5:10, 5:10] = 1  # 5x5 square, centroid (7, 7)
    mask[20, 30:33] = 1
    mask[21, 33] = 1  # diagonal neighbour: same 8-connected component of 4 pixels
    mask[35, 45] = 0.9  # single pixel, dropped by min_area=2
    mask[30, 10] = 0.5  # below threshold
    d = detect_cells(mask, 0.7, min_area=2)
    assert len(d) == 2 and d.n_dropped == 1
    order = np.argsort(d.centroids[:, 0])
    np.testing.assert_allclose(d.centroids[order[0]], [7, 7])
    np.testing.assert_allclose(d.centroids[order[1]], [20.25, 31.5])
    assert sorted(d.areas) == [4, 25]
    with pytest.raises(ValueError, match="2-D"):
        detect_cells(np.zeros((2, 3, 4)))


def test_extract_patches_centre_and_padding():
    img = np.arange(100, dtype=np.float32).reshape(10, 10)
    p = extract_patches(img, np.array([[5, 5], [0, 0]]), size=3)
    assert p.shape == (2, 1, 3, 3)
    np.testing.assert_array_equal(p[0, 0], img[4:7, 4:7])
    np.testing.assert_array_equal(p[1, 0, 0], [0, 0, 0])
    assert p[1, 0, 1, 1] == img[0, 0]
    assert extract_patches(np.stack([img, img, img]), np.array([[5, 5]]), 5, 9).shape == (1, 3, 9, 9)
    with pytest.raises(ValueError, match="odd"):
        extract_patches(img, np.array([[5, 5]]), 4)
    assert extract_patches(img, np.array([[9.4, -0.4]]), 3).shape == (1, 1, 3, 3)  # rounds onto the image
    with pytest.raises(ValueError, match=r"outside the 10x10 image, e.g. centre 1 at \(row, col\) = \(-2, 3\)"):
        extract_patches(img, np.array([[5, 5], [-2, 3], [10, 0]]), 3)


def test_centers_metric_hand_made():
    truth = np.array([[10, 10], [20, 20], [30, 30], [40, 40]], float)
    est = np.array([[11, 10], [20, 24.9], [30, 35.0], [100, 100], [12, 11]], float)
    # (11,10) matches (10,10); (20,24.9) is 4.9 px away: match; (30,35) is exactly 5: no (strict <); (12,11) is
    # near (10,10) but that is taken already: one-to-one
    m = match_centers(truth, est)
    np.testing.assert_array_equal(m, [0, 1, -1, -1])
    s = centers_metric(truth, est)
    assert s["recall"] == pytest.approx(2 / 4) and s["precision"] == pytest.approx(2 / 5)
    assert s["f1"] == pytest.approx(2 * 0.5 * 0.4 / 0.9)
    assert centers_metric(truth, np.zeros((0, 2)))["f1"] == 0.0
    assert centers_metric(truth, truth + 1)["f1"] == pytest.approx(1.0)


def test_pixel_accuracy_and_target():
    lab = np.zeros((12, 12), np.int32)
    lab[2:6, 2:6] = 1
    lab[2:6, 6:10] = 2  # touches ROI 1
    t = probability_target(lab, None)
    assert t[3, 5] == 0 and t[3, 6] == 0 and t[3, 3] == 1  # touching borders removed
    assert pixel_accuracy(t, t > 0.5) == 1.0
    assert pixel_accuracy(np.zeros((12, 12)), lab > 0) == pytest.approx(1 - 32 / 144)
    smooth = probability_target(lab, 1.0)
    assert smooth.max() <= 1 and smooth[3, 3] > smooth[0, 0]


@pytest.mark.parametrize("arch,block", [("resnet18", "layer3"), ("inception_v3", "Mixed_6a"), ("resnet18", "fc")])
def test_trainable_from_freezes_exactly_before(arch, block):
    from neuro_lib.models.transfer import build_transfer_model, layer_names

    m = build_transfer_model(arch, 3, trainable_from=block)
    names = layer_names(arch)
    k = names.index(block)
    for i, name in enumerate(names):
        params = list(getattr(m.net, name).parameters())
        assert params, name
        assert all(p.requires_grad == (i >= k) for p in params), name
    assert m.net.fc.out_features == 3
    m.train()
    assert not getattr(m.net, names[0]).training and getattr(m.net, block).training
    with pytest.raises(ValueError, match="not a block"):
        build_transfer_model(arch, 3, trainable_from="nope")


def test_weights_file_and_split(tmp_path):
    from neuro_lib.models.transfer import build_transfer_model, load_trunk, save_trunk, split_model

    a = build_transfer_model("resnet18", 2)
    path = save_trunk(a, tmp_path / "w.pt")
    b = build_transfer_model("resnet18", 4, weights=path, trainable_from="layer4")
    torch.testing.assert_close(a.net.layer2[0].conv1.weight, b.net.layer2[0].conv1.weight)
    c = load_trunk(build_transfer_model("resnet18", 4, trainable_from="layer4"), path)
    torch.testing.assert_close(c.net.layer4[1].conv2.weight, a.net.layer4[1].conv2.weight)
    assert c.net.fc.out_features == 4 and not c.net.layer2[0].conv1.weight.requires_grad
    bad = tmp_path / "bad.pt"
    torch.save({"foo": torch.zeros(1)}, bad)
    with pytest.raises(ValueError, match="does not fit"):
        build_transfer_model("resnet18", 2, weights=bad)
    with pytest.raises(FileNotFoundError):
        build_transfer_model("resnet18", 2, weights=tmp_path / "none.pt")
    b.eval()
    pre, suf = split_model(b)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(suf(pre(x)), b(x))


def test_unet_shapes():
    from neuro_lib.models.unet import UNet

    u = UNet(4, 1, base=4, depth=3)
    assert u(torch.randn(2, 4, 50, 37)).shape == (2, 1, 50, 37)


def test_detect_peaks_splits_touching_cells_and_handles_flat_tops():
    from neuro_lib.imaging.detection import detect_peaks, peaks_with_heights

    rr, cc = np.mgrid[:40, :60]
    two = np.exp(-((rr - 20) ** 2 + (cc - 20) ** 2) / 18) + np.exp(-((rr - 20) ** 2 + (cc - 29) ** 2) / 18)
    assert len(detect_cells(two, 0.5)) == 1  # one component: the two cells touch
    p = detect_peaks(two, 0.5, sigma=0)
    assert len(p) == 2
    np.testing.assert_allclose(sorted(p[:, 1]), [20, 29], atol=0.6)
    flat = np.zeros((50, 50), np.float32)
    flat[10:30, 10:30] = 1.0  # a saturated plateau counts once, at its centre
    flat[40, 40] = 0.8
    c, h = peaks_with_heights(flat, 0.5, sigma=0)
    np.testing.assert_allclose(c, [[19.5, 19.5], [40, 40]])
    np.testing.assert_allclose(h, [1.0, 0.8])
    assert len(detect_peaks(flat, 0.9, sigma=0)) == 1 and len(detect_peaks(flat, 1.5, sigma=0)) == 0
    with pytest.raises(ValueError, match="2-D"):
        detect_peaks(np.zeros((2, 2, 2)))


def test_choose_thresholds_uses_only_the_training_region():
    from neuro_lib.imaging.segmentation import choose_thresholds

    rng = np.random.default_rng(0)
    H = W = 64
    lab = np.zeros((H, W), np.int32)
    cents = []
    for k, (r, c) in enumerate([(r, c) for r in range(8, 64, 20) for c in range(8, 64, 20)]):
        lab[_disk((r, c), 3, (H, W))[:, 0], _disk((r, c), 3, (H, W))[:, 1]] = k + 1
        cents.append((r, c))
    truth = np.array(cents, float)
    mask = lab > 0
    region = np.zeros((H, W), bool)
    region[:, :18] = True
    prob = np.where(mask, 0.6, 0.2) + rng.normal(0, 0.01, (H, W))
    prob[:, 18:] = np.where(mask[:, 18:], 0.95, 0.8)  # the larger rest would want a threshold near 0.9
    th = choose_thresholds(prob.astype(np.float32), mask, truth, region)
    assert 0.2 < th["pixel"] <= 0.6 and th["train_pixel_accuracy"] == pytest.approx(1.0)
    assert 0.2 < th["peak"] <= 0.6 and th["train_f1"] == pytest.approx(1.0)


def test_local_normalise_removes_a_brightness_gradient():
    from neuro_lib.imaging.summary import local_normalise

    rng = np.random.default_rng(0)
    noise = rng.normal(size=(128, 128)).astype(np.float32)
    ramp = np.linspace(0, 50, 128, dtype=np.float32)[None] * np.ones((128, 1), np.float32)
    out = local_normalise(noise + ramp, sigma=8)
    left, right = (slice(None), slice(24, 54)), (slice(None), slice(74, 104))  # away from the image edges
    assert abs(out[left].mean() - out[right].mean()) < 0.05  # the ramp is gone
    assert out[left].std() == pytest.approx(out[right].std(), rel=0.1)
    assert out.dtype == np.float32 and out.shape == (128, 128)
    assert np.all(local_normalise(np.ones((16, 16))) == 0)


def test_crop_dataset_stays_inside_the_training_region_and_redraws():
    from neuro_lib.imaging.segmentation import CropDataset

    H, W = 40, 50
    img = np.stack([np.arange(H * W, dtype=np.float32).reshape(H, W)])
    allowed = np.zeros((H, W), bool)
    allowed[:, :30] = True
    ds = CropDataset(img, np.zeros((H, W), np.float32), allowed, 5, crop=16, augment=False)
    seen = set()
    for _ in range(20):
        for i in range(len(ds)):
            x, y = ds[i]
            assert x.shape == (1, 16, 16) and y.shape == (1, 16, 16)
            col = int(x[0, 0, 0]) % W
            assert col + 16 <= 30  # the whole crop lies in the allowed columns
            seen.add(int(x[0, 0, 0]))
    assert len(seen) > 5  # new positions each epoch, not the same 5 crops
    with pytest.raises(ValueError, match="no crop"):
        CropDataset(img, np.zeros((H, W), np.float32), allowed, 5, crop=32)


def test_dihedral_gives_the_eight_symmetries_and_augment_keeps_shape():
    from neuro_lib.imaging.patches import augment_patches, dihedral

    x = torch.arange(9.0).reshape(1, 1, 3, 3)
    outs = [dihedral(x, k) for k in range(8)]
    torch.testing.assert_close(outs[0], x)
    assert len({tuple(o.flatten().tolist()) for o in outs}) == 8  # all different on an asymmetric patch
    torch.testing.assert_close(dihedral(x, 1), torch.rot90(x, 1, (2, 3)))
    torch.testing.assert_close(dihedral(x, 4), x.flip(-1))
    g = torch.Generator().manual_seed(0)
    y = augment_patches(torch.rand(5, 3, 9, 9), g, flips=True)
    assert y.shape == (5, 3, 9, 9)
    # a centre-symmetric blob stays centred under every augmentation
    rr, cc = torch.meshgrid(torch.arange(9.0), torch.arange(9.0), indexing="ij")
    blob = torch.exp(-((rr - 4) ** 2 + (cc - 4) ** 2) / 4).expand(4, 1, 9, 9).contiguous()
    out = augment_patches(blob, g, flips=True)
    assert (out.flatten(1).argmax(1) == 4 * 9 + 4).all()


def _separable_patches(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 0.2, size=(n, 3, 11, 11)).astype(np.float32)
    y = np.r_[np.ones(n // 2, np.int64), np.zeros(n - n // 2, np.int64)]
    x[: n // 2, :, 3:8, 3:8] += 0.8  # cells: a bright centre
    return x, y


def test_transfer_classifier_is_an_estimator_that_learns_a_separable_problem():
    from sklearn.base import clone

    from neuro_lib.evaluation import cross_validate, kfold_splits
    from neuro_lib.imaging.patches import TransferClassifier

    x, y = _separable_patches()
    net = TransferClassifier("resnet18", "conv1", input_size=32, epochs=10, batch_size=10, lr=2e-3,
                             schedule="cosine", flips=True, tta=True)
    assert clone(net).get_params() == net.get_params()
    res = cross_validate({"r18": net}, x, np.where(y == 1, "cell", "not cell"), kfold_splits(y, 2, seed=0),
                         seed=0, progress=False)["r18"]
    assert res.summary()["accuracy"] >= 0.85 and list(res.classes) == ["cell", "not cell"]
    fitted = clone(net).set_params(epochs=1).fit(x, y)
    few = x[::5]  # 8 patches: test-time augmentation runs the network 8 times per patch
    p = fitted.predict_proba(few)
    assert p.shape == (8, 2) and np.allclose(p.sum(1), 1)
    # tta: the probabilities are the mean softmax over the 8 symmetries of the square, so a patch and its mirror
    # image get the same probabilities
    np.testing.assert_allclose(fitted.predict_proba(few[:, :, :, ::-1].copy()), p, atol=1e-5)
    back = TransferClassifier.from_state(fitted.get_state())
    np.testing.assert_array_equal(back.predict_proba(few), p)
    with pytest.raises(ValueError, match="schedule"):
        TransferClassifier("resnet18", "fc", input_size=32, epochs=1, schedule="step").fit(x, y)


def test_transfer_classifier_frozen_trunk_is_seeded_and_keeps_its_weights(tmp_path):
    from neuro_lib.imaging.patches import TransferClassifier
    from neuro_lib.models.transfer import build_transfer_model, save_trunk

    x, y = _separable_patches(24)
    trunk = save_trunk(build_transfer_model("resnet18", 2), tmp_path / "trunk.pt")
    kw = dict(input_size=32, epochs=1, n_aug=1, batch_size=8, weights=str(trunk))
    a = TransferClassifier("resnet18", "layer4", random_state=3, **kw).fit(x, y)
    b = TransferClassifier("resnet18", "layer4", random_state=3, **kw).fit(x, y)
    c = TransferClassifier("resnet18", "layer4", random_state=4, **kw).fit(x, y)
    np.testing.assert_array_equal(a.predict_proba(x), b.predict_proba(x))
    assert not np.array_equal(a.predict_proba(x), c.predict_proba(x))
    saved = torch.load(trunk, weights_only=True)
    torch.testing.assert_close(a.module_.net.layer3[0].conv1.weight, saved["layer3.0.conv1.weight"])  # frozen
    assert not torch.equal(a.module_.net.layer4[0].conv1.weight, saved["layer4.0.conv1.weight"])  # trained


def test_pixel_logistic_regression_and_cached_cv(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURO_LIB_CACHE", str(tmp_path))
    from neuro_lib.evaluation import kfold_splits
    from neuro_lib.imaging.patches import cross_validate_cached, pixel_logistic_regression

    x, y = _separable_patches(40)
    splits = kfold_splits(y, 4, seed=1)
    r, secs = cross_validate_cached("lr", pixel_logistic_regression(), x, y, splits, seed=1)
    assert r.summary()["accuracy"] == 1.0 and secs >= 0
    again, secs2 = cross_validate_cached("lr", pixel_logistic_regression(), x, y, splits, seed=1)
    assert secs2 == secs and again.splits == r.splits  # read back from the cache
    assert len(list((tmp_path / "imaging" / "patch_cv").glob("*.npz"))) == 1
    cross_validate_cached("lr", pixel_logistic_regression(max_iter=50), x, y, splits, seed=1)
    assert len(list((tmp_path / "imaging" / "patch_cv").glob("*.npz"))) == 2  # another parameter, another item


def test_pretrained_trunk_is_cached_and_loadable(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURO_LIB_CACHE", str(tmp_path))
    from neuro_lib.imaging.patches import TransferClassifier, pretrained_trunk

    x, y = _separable_patches(16)
    a = pretrained_trunk("resnet18", x, input_size=32, epochs=1, batch_size=8)
    assert a["path"].exists() and len(a["train_loss"]) == 1 and a["seconds"] > 0
    b = pretrained_trunk("resnet18", x, input_size=32, epochs=1, batch_size=8)
    assert b == a  # the same file, the curve and time of the run that made it
    net = TransferClassifier("resnet18", "fc", weights=str(a["path"]), input_size=32, epochs=1).fit(x, y)
    saved = torch.load(a["path"], weights_only=True)
    torch.testing.assert_close(net.module_.net.conv1.weight, saved["conv1.weight"])


def test_roi_contrast_against_a_hand_made_image():
    from neuro_lib.imaging.summary import roi_contrast

    rng = np.random.default_rng(1)
    img = rng.normal(0, 1, size=(40, 40)).astype(np.float32)
    lab = np.zeros((40, 40), int)
    lab[8:13, 8:13] = 1  # a bright ROI
    lab[25:30, 25:30] = 2  # an ROI that looks like its surroundings
    img[8:13, 8:13] += 5
    c = roi_contrast(np.stack([img, -img]), lab, ring=(1, 4))
    assert c.shape == (2, 2)
    ring = np.zeros((40, 40), bool)
    ring[4:17, 4:17] = True
    ring[7:14, 7:14] = False  # chessboard distance 2 to 4 from the ROI
    expect = (img[8:13, 8:13].mean() - img[ring].mean()) / img[ring].std()
    assert c[0, 0] == pytest.approx(expect, rel=1e-5)
    assert c[0, 1] == pytest.approx(-expect, rel=1e-5)
    assert abs(c[1, 0]) < 1.5
    with pytest.raises(ValueError, match="same"):
        roi_contrast(img[:30], lab)


def test_roi_transient_snr_tells_a_firing_roi_from_a_silent_one():
    from neuro_lib.imaging.summary import roi_transient_snr

    rng = np.random.default_rng(2)
    T, H, W = 200, 40, 40
    movie = rng.normal(100, 2, size=(T, H, W)).astype(np.float32)
    lab = np.zeros((H, W), int)
    lab[8:13, 8:13] = 1  # fires once: a calcium transient (fast rise, slow decay)
    lab[25:30, 25:30] = 2  # silent
    t = np.arange(T)
    transient = np.where(t >= 80, 20 * np.exp(-(t - 80) / 10.0), 0).astype(np.float32)
    movie[:, 8:13, 8:13] += transient[:, None, None]
    # a neuropil transient over the whole field: in the ROI and in its ring alike, so the correction removes it
    movie += np.where(t >= 150, 10 * np.exp(-(t - 150) / 10.0), 0).astype(np.float32)[:, None, None]
    peak, trough = roi_transient_snr(movie, lab, neuropil=1.0)
    assert peak.shape == trough.shape == (2,)
    assert peak[0] > 10 and trough[0] < 5  # a clear upward transient
    assert peak[1] < 5 and trough[1] < 5  # noise only, about as far up as down
    peak_raw, _ = roi_transient_snr(movie, lab, neuropil=0.0)
    assert peak_raw[1] > 10  # uncorrected, the neuropil's transient looks like the silent ROI firing
    with pytest.raises(ValueError, match="frames"):
        roi_transient_snr(movie[:, :30], lab)
    with pytest.raises(ValueError, match="smooth"):
        roi_transient_snr(movie, lab, smooth=0)


def test_make_patch_dataset_negatives_follow_the_rules_and_jitter_moves_both_classes():
    from neuro_lib.imaging.patches import make_patch_dataset

    H = W = 64
    img = np.random.default_rng(0).random((3, H, W)).astype(np.float32)
    truth = np.array([[10.0, 10.0], [30.0, 40.0], [50.0, 20.0]])
    mask = np.zeros((H, W), bool)
    for r, c in truth.astype(int):
        mask[r - 2:r + 3, c - 2:c + 3] = True
    cand = np.array([[11.0, 11.0],   # matches ROI 0: not a negative
                     [30.0, 45.0],   # 5 px from ROI 1: too close (min_dist 8)
                     [5.0, 55.0],    # a good negative
                     [40.0, 5.0]])   # a good negative
    ds = make_patch_dataset(img, truth, mask, candidates=cand, size=5, seed=0)
    assert ds["y"].tolist() == [1, 1, 1, 0, 0, 0]
    assert ds["source"].tolist() == ["roi"] * 3 + ["candidate"] * 2 + ["random"]
    np.testing.assert_array_equal(ds["centres"][:5], np.vstack([truth, cand[2:]]))
    rand = ds["centres"][5]
    assert np.hypot(*(truth - rand).T).min() >= 8 and not mask[int(rand[0]), int(rand[1])]
    np.testing.assert_array_equal(ds["x"][0], img[:, 8:13, 8:13])  # the patch around ROI 0
    jit = make_patch_dataset(img, truth, mask, candidates=cand, size=5, jitter=2, seed=0)
    assert jit["y"].tolist() == ds["y"].tolist() and jit["source"].tolist() == ds["source"].tolist()
    shift = jit["centres"] - ds["centres"]  # the same cells and negatives, each centre moved by at most 2 px
    assert np.abs(shift).max() <= 2 and (shift != 0).any(axis=1).sum() >= 3
    assert (shift[:3] != 0).any() and (shift[3:] != 0).any()  # both classes move


def test_augment_patches_translate_shifts_a_blob():
    from neuro_lib.imaging.patches import augment_patches

    rr, cc = torch.meshgrid(torch.arange(21.0), torch.arange(21.0), indexing="ij")
    blob = torch.exp(-((rr - 10) ** 2 + (cc - 10) ** 2) / 3).expand(64, 1, 21, 21).contiguous()
    g = torch.Generator().manual_seed(0)
    out = augment_patches(blob, g, max_angle=0.0, scale=(1.0, 1.0), translate=0.1)
    peak = torch.stack([out.flatten(1).argmax(1) // 21, out.flatten(1).argmax(1) % 21], 1) - 10
    assert peak.abs().max() <= 3 and (peak != 0).any()  # up to 0.1 x 21 = 2.1 px each way, and some move
    same = augment_patches(blob, torch.Generator().manual_seed(0), max_angle=0.0, scale=(1.0, 1.0))
    assert (same.flatten(1).argmax(1) == 10 * 21 + 10).all()  # translate=0: centred


def test_quadrant_splits_and_region_masks():
    from neuro_lib.imaging.detection import region_mask
    from neuro_lib.imaging.segmentation import quadrant_splits

    sp = quadrant_splits()
    assert [s.test.tolist() for s in sp] == [[0], [1], [2], [3]] and sp[2].train.tolist() == [0, 1, 3]
    m = region_mask(sp[1].train, (10, 12))
    assert m.sum() == 120 - 30 and not m[0, 11] and m[0, 0] and m[9, 11]  # all but the top-right 5x6
    pts = np.array([[4.9, 5.9], [4.9, 6.0], [5.0, 0.0]])
    np.testing.assert_array_equal(region_mask([0], (10, 12), points=pts), [True, False, False])
    np.testing.assert_array_equal(region_mask([1, 2], (10, 12), points=pts), [False, True, True])


def test_cross_quadrant_select_never_looks_at_the_test_quadrant():
    from neuro_lib.imaging.detection import cross_quadrant_select, quadrant_scores

    truth = np.array([[10, 10], [10, 40], [40, 10], [40, 40]], float)  # one ROI per quadrant of a 50x50 field
    perfect_but_0 = np.array([[10, 40], [40, 10], [40, 40]], float)  # finds all but quadrant 0's
    only_0 = np.array([[10, 10]], float)
    sel = cross_quadrant_select({"a": perfect_but_0, "b": only_0}, truth, (50, 50))
    # quadrant 0 is scored with the setting that is best on quadrants 1-3 ("a"), which misses it there
    assert sel["chosen"] == ["a", "a", "a", "a"]
    np.testing.assert_array_equal(sel["centroids"], perfect_but_0)
    sc = quadrant_scores(truth, sel["centroids"], (50, 50))
    assert sc["f1"].tolist() == [0.0, 1.0, 1.0, 1.0] and sc["fold"].tolist() == [0, 1, 2, 3]


def test_unet_segmenter_is_seeded_trains_inside_its_region_and_round_trips(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURO_LIB_CACHE", str(tmp_path))
    from sklearn.base import clone

    from neuro_lib.imaging.segmentation import UNetSegmenter, cross_quadrant_unet, fit_segmenter

    rng = np.random.default_rng(0)
    H = W = 48
    lab = np.zeros((H, W), np.int32)
    for k, (r, c) in enumerate([(8, 8), (8, 36), (36, 10), (34, 34), (20, 22)]):
        d = _disk((r, c), 3, (H, W))
        lab[d[:, 0], d[:, 1]] = k + 1
    image = np.stack([(lab > 0) + rng.normal(0, 0.1, (H, W))] * 2).astype(np.float32)
    target = probability_target(lab, None)
    kw = dict(base=4, depth=2, epochs=2, crops_per_epoch=4, crop=16, batch_size=2, device="cpu")
    a = UNetSegmenter(random_state=1, **kw).fit(image, target)
    b = UNetSegmenter(random_state=1, **kw).fit(image, target)
    c = UNetSegmenter(random_state=2, **kw).fit(image, target)
    assert a.predict_proba(image).shape == (H, W)
    np.testing.assert_array_equal(a.predict_proba(image), b.predict_proba(image))
    assert not np.array_equal(a.predict_proba(image), c.predict_proba(image))
    assert clone(a).get_params() == a.get_params()
    np.testing.assert_array_equal(UNetSegmenter.from_state(a.get_state()).predict_proba(image), a.predict_proba(image))
    region = np.zeros((H, W), bool)
    region[:, :20] = True
    cached = fit_segmenter(UNetSegmenter(random_state=1, **kw), image, target, region)
    again = fit_segmenter(UNetSegmenter(random_state=1, **kw), image, target, region)
    np.testing.assert_array_equal(cached.predict_proba(image), again.predict_proba(image))
    assert len(list((tmp_path / "imaging" / "unet").glob("*.pt"))) == 1
    with pytest.raises(ValueError, match="no crop"):
        UNetSegmenter(**{**kw, "crop": 24}).fit(image, target, region=region)
    res = cross_quadrant_unet(UNetSegmenter(**kw), image, target, seed=5, mask=lab > 0, truth=np.argwhere(lab == 5)
                              .mean(0, keepdims=True), progress=False)
    # split j runs with random_state = seed + j, as in cross_validate
    assert [m.random_state for m in res.models] == [5, 6, 7, 8]
    assert not np.isnan(res.prob).any() and len(res.thresholds) == 4 and res.pred.shape == (H, W)
    # the held-out centroids are, quadrant by quadrant, the detections of the network that did not train there
    held = [d[res.held_out(j, d)] for j, d in enumerate(res.detections)]
    np.testing.assert_array_equal(res.centroids, np.vstack(held))
    for j, s in enumerate(res.splits):
        test = np.zeros((H, W), bool)
        test[quadrant_slices((H, W))[s.test[0]]] = True
        np.testing.assert_array_equal(res.prob[test], res.full_prob[j][test])


def test_parse_roi_names_the_roi():
    from neuro_lib.imaging.neurofinder import parse_roi

    assert parse_roi({"id": 3, "coordinates": [[1, 2], [1, 2], [0, 0]]}, 0, "r.json").tolist() == [[0, 0], [1, 2]]
    with pytest.raises(NeurofinderError, match=r"r.json \[ROI 4, id 9\].*integer"):
        parse_roi({"id": 9, "coordinates": [[1.5, 2]]}, 4, "r.json")
    with pytest.raises(NeurofinderError, match=r"ROI 2, id 2.*no 'coordinates'"):
        parse_roi({"pixels": []}, 2, "r.json")
    with pytest.raises(NeurofinderError, match=r"outside the 5x5 image"):
        parse_roi({"coordinates": [[5, 0]]}, 0, "r.json", (5, 5))


def test_suite2p_runs_offline_with_its_shipped_classifier():
    from neuro_lib.imaging.peers import suite2p_classifier_file, suite2p_detect

    assert suite2p_classifier_file().name == "classifier.npy"
    rng = np.random.default_rng(0)
    T, H, W = 300, 64, 64
    movie = rng.normal(100, 3, size=(T, H, W)).astype(np.float32)
    for r, c in [(16, 16), (16, 46), (46, 20), (44, 46)]:
        d = _disk((r, c), 4, (H, W))
        spikes = np.zeros(T)
        spikes[rng.choice(T - 20, 6, replace=False)] = 1
        trace = np.convolve(spikes, 60 * np.exp(-np.arange(30) / 5.0))[:T]
        movie[:, d[:, 0], d[:, 1]] += trace[:, None].astype(np.float32)
    out = suite2p_detect(movie, diameter=8, fs=10.0, tau=1.0, threshold_scaling=0.5, classify=True)
    assert out["centroids"].shape[1] == 2 and len(out["iscell_prob"]) == len(out["centroids"]) >= 1
    assert np.all((out["iscell_prob"] >= 0) & (out["iscell_prob"] <= 1))
    truth = np.array([(16, 16), (16, 46), (46, 20), (44, 46)], float)
    assert centers_metric(truth, out["centroids"])["n_matched"] >= 2  # suite2p finds firing cells


def test_chapter_settings_and_earlier_numbers():
    from neuro_lib.imaging import chapter
    from neuro_lib.imaging.data import earlier_movie_numbers

    cfg = chapter.settings("cpu", unet_epochs=3, n_splits=None)
    assert cfg["unet_epochs"] == 3 and cfg["n_splits"] == 10 and cfg["threads"] == 1
    assert chapter.settings("smoke")["n_frames"] == 40
    with pytest.raises(ValueError, match="unknown imaging setting"):
        chapter.settings("cpu", epochs=3)
    net = chapter.patch_network(cfg, "resnet18", "fc")
    assert net.epochs == cfg["patch_epochs_fc"] and net.tta is False  # TTA only for networks trained from conv1
    assert chapter.patch_network(cfg, "resnet18", "conv1").tta is True
    old = earlier_movie_numbers()
    assert old["commit"].startswith("0b1ceb5") and old["numbers"]["segmentation/unet/f1"] == 0.542
    from neuro_lib import results

    for k in old["numbers"]:
        results.parse_key(k)  # every key has the fixed slots


def _fake_unet(truth, false, shape=(64, 64)):
    """A QuadrantResult whose four 'networks' all map peaks of height 0.9 at the true centres and 0.5 at ``false``."""
    from neuro_lib.imaging.segmentation import QuadrantResult, quadrant_splits

    rr, cc = np.mgrid[:shape[0], :shape[1]]
    p = np.zeros(shape, np.float32)
    for (r, c), h in [*((t, 0.9) for t in truth), *((f, 0.5) for f in false)]:
        p = np.maximum(p, h * np.exp(-((rr - r) ** 2 + (cc - c) ** 2) / 4.0))
    th = {"pixel": 0.5, "peak": 0.6, "sigma": 0.0, "train_pixel_accuracy": 1.0, "train_f1": 1.0}
    return QuadrantResult(quadrant_splits(), [None] * 4, [p] * 4, p, thresholds=[th] * 4)


def test_pipeline_candidates_are_labelled_by_matching_and_split_by_quadrant():
    from neuro_lib.imaging.pipeline import candidate_samples

    truth = np.array([[10, 10], [10, 50], [50, 12], [50, 50], [20, 22]], float)
    false = np.array([[25, 45], [45, 30]], float)
    unet = _fake_unet(truth, false)
    img = np.random.default_rng(0).random((3, 64, 64)).astype(np.float32)
    c = candidate_samples(unet, truth, img, size=5, thresholds=[0.3] * 4)
    assert len(c.y) == 4 * 7 and c.x.shape == (28, 3, 5, 5)
    for j, s in enumerate(c.splits):  # split j: its own candidates, trained outside, tested inside quadrant j
        assert set(c.split[s.train]) == {j} and set(c.split[s.test]) == {j}
        assert c.held_out[s.test].all() and not c.held_out[s.train].any()
    first = c.split == 0
    lab = {tuple(np.rint(p).astype(int)): y for p, y in zip(c.centres[first], c.y[first])}
    assert lab[(10, 10)] == 1 and lab[(25, 45)] == 0 and sum(lab.values()) == 5
    high = candidate_samples(unet, truth, img, size=5, thresholds=[0.6] * 4)  # above the false peaks
    assert high.y.all() and len(high.y) == 20
    capped = candidate_samples(unet, truth, img, size=5, thresholds=[0.3] * 4, max_per_quadrant=1)
    assert len(capped.y) == 4 * 4 and capped.y.all()  # the highest peak of each quadrant is a cell


def test_run_pipeline_keeps_what_the_classifier_calls_cells():
    from sklearn.dummy import DummyClassifier

    from neuro_lib.imaging.pipeline import paired_quadrant_difference, run_pipeline
    from neuro_lib.imaging.detection import quadrant_scores
    from neuro_lib.imaging.patches import pixel_logistic_regression

    truth = np.array([[10, 10], [12, 44], [48, 14], [50, 50], [20, 22], [44, 40]], float)
    false = np.array([[25, 45], [45, 25], [8, 24], [56, 56]], float)
    unet = _fake_unet(truth, false)
    img = np.zeros((3, 64, 64), np.float32)
    for r, c in truth.astype(int):
        img[:, r - 1:r + 2, c - 1:c + 2] = 1.0  # cells are bright, false peaks are not
    img += np.random.default_rng(1).normal(0, 0.05, img.shape).astype(np.float32)
    res = run_pipeline(pixel_logistic_regression(), unet, truth, img, size=7, thresholds=[0.3] * 4)
    assert res.scores["f1"].tolist() == [1.0, 1.0, 1.0, 1.0] and len(res.centroids) == len(truth)
    assert np.isnan(res.p_cell[~res.candidates.held_out]).all() and len(res.cv.splits) == 4
    alone = quadrant_scores(truth, np.vstack([truth, false]), (64, 64))
    d = paired_quadrant_difference(res.scores, alone, "f1")
    assert d["mean"] > 0 and np.allclose(d["diffs"], res.scores["f1"] - alone["f1"])
    keep_all = run_pipeline(DummyClassifier(strategy="constant", constant=1), unet, truth, img, size=7,
                            thresholds=[0.3] * 4)
    assert len(keep_all.centroids) == len(truth) + len(false)
    with pytest.raises(ValueError, match="same held-out quadrants"):
        paired_quadrant_difference(res.scores, alone.iloc[::-1])


def test_paired_quadrant_difference_over_seeds_pairs_seed_by_seed():
    import pandas as pd

    from neuro_lib.evaluation import corrected_t_interval
    from neuro_lib.imaging.pipeline import paired_quadrant_difference

    def table(f1):
        return pd.DataFrame({"fold": [0, 1, 2, 3], "f1": f1})

    a = [table([0.6, 0.7, 0.5, 0.6]), table([0.62, 0.66, 0.55, 0.58])]
    b = [table([0.5, 0.6, 0.5, 0.55]), table([0.6, 0.6, 0.5, 0.6])]
    d = paired_quadrant_difference(a, b)
    diffs = np.array([0.1, 0.1, 0.0, 0.05, 0.02, 0.06, 0.05, -0.02])
    assert np.allclose(d["diffs"], diffs)
    m, lo, hi, p = corrected_t_interval(diffs, 1 / 3)  # 8 pairs: 7 degrees of freedom, not 3
    assert (d["mean"], d["lo"], d["hi"], d["p"]) == pytest.approx((m, lo, hi, p))
    one = paired_quadrant_difference(a[0], b[0])
    assert hi - lo < one["hi"] - one["lo"]  # more seeds, a narrower interval here
    with pytest.raises(ValueError, match="one per seed"):
        paired_quadrant_difference(a, b[:1])
    with pytest.raises(ValueError, match="seed 1 are not over the same"):
        paired_quadrant_difference(a, [b[0], b[1].iloc[::-1]])


def test_seed_table_gives_mean_and_sample_sd_and_the_seed_plot():
    from neuro_lib.imaging import chapter, report

    t = report.seed_table({0: {"f1": 0.5, "pixel_accuracy": 0.9}, 1: {"f1": 0.7, "pixel_accuracy": 0.92},
                           2: {"f1": 0.6, "pixel_accuracy": 0.91}})
    assert list(t.index) == ["seed 0", "seed 1", "seed 2", "mean", "sd"]
    assert t.loc["mean", "f1"] == pytest.approx(0.6) and t.loc["sd", "f1"] == pytest.approx(0.1)  # ddof=1
    m = report.seed_metrics(t, "segmentation", "unet", ["f1"])
    assert m == pytest.approx({"segmentation/unet/f1": 0.6, "segmentation/unet/f1_sd": 0.1,
                               "segmentation/unet/split=seed_0/f1": 0.5, "segmentation/unet/split=seed_1/f1": 0.7,
                               "segmentation/unet/split=seed_2/f1": 0.6})
    prefixed = report.seed_table({0: {"unet_f1": 0.5}, 1: {"unet_f1": 0.7}})
    assert report.seed_metrics(prefixed, "segmentation", "unet", ["f1"], column="unet_{}")[
        "segmentation/unet/f1"] == pytest.approx(0.6)
    with pytest.raises(KeyError):
        report.seed_metrics(t, "segmentation", "unet", ["recall"])
    single = report.seed_table({4: {"f1": 0.5}})
    assert single.loc["sd", "f1"] == 0 and single.loc["mean", "f1"] == 0.5
    with pytest.raises(ValueError, match="at least one seed"):
        report.seed_table({})
    with pytest.raises(ValueError, match="same metrics"):
        report.seed_table({0: {"f1": 0.5}, 1: {"recall": 0.5}})
    fig = report.plot_seed_scores({0: [0.5, 0.6, 0.4, 0.5], 1: [0.55, 0.6, 0.45, 0.5]}, {0: 0.5, 1: 0.52},
                                  reference=("suite2p", 0.3))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()][-1] == "pooled"
    assert ax.patches[0].get_height() == pytest.approx(0.51)  # the bar: the mean of the pooled scores over seeds
    assert chapter.settings("cpu")["n_seeds"] == 3 and chapter.settings("smoke")["n_seeds"] == 2
    with pytest.raises(ValueError, match="n_seeds must be at least 1"):
        chapter.settings("cpu", n_seeds=0)


def test_chapter_times_reads_each_page_and_counts_a_missing_one(tmp_path, monkeypatch):
    import json

    from neuro_lib import results
    from neuro_lib.imaging.report import chapter_times

    monkeypatch.setenv("NEURO_LIB_RESULTS", str(tmp_path))
    results.write_results("imaging", "01_data", {"runtime/01_data/seconds": 10.0,
                                                 "runtime/01_data/cpu_seconds": 4.0,
                                                 "runtime/01_data/load_average": 2.0})
    path = results.write_results("imaging", "02_segmentation", {"runtime/02_segmentation/seconds": 50.0})
    doc = json.loads(path.read_text())
    doc["execution"] = {"seconds": 55.0}  # the runner's figure wins over the page's own
    path.write_text(json.dumps(doc))
    t = chapter_times(["01_data", "02_segmentation", "03_patch_classification", "04_pipeline"],
                      dict(page="04_pipeline", seconds=7, cpu_seconds=3, load_average=1.5))
    assert t.loc["01_data", "seconds"] == 10.0 and t.loc["01_data", "cpu_seconds"] == 4.0
    assert t.loc["02_segmentation", "seconds"] == 55.0 and np.isnan(t.loc["02_segmentation", "cpu_seconds"])
    assert not t.loc["03_patch_classification", "found"] and np.isnan(t.loc["03_patch_classification", "seconds"])
    assert t.loc["04_pipeline", "seconds"] == 7.0 and t["found"].sum() == 3
