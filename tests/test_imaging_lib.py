"""Unit tests of neuro_lib.imaging and the imaging models (synthetic data written by the tests)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from neuro_lib.imaging import (NeurofinderError, centers_metric, detect_cells, extract_patches,
                               load_neurofinder, local_correlation_image, match_centers, pixel_accuracy,
                               probability_target, rois_to_labels, write_neurofinder)


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
    from neuro_lib.imaging.patches import split_model
    from neuro_lib.models.transfer import build_transfer_model, save_trunk

    a = build_transfer_model("resnet18", 2)
    path = save_trunk(a, tmp_path / "w.pt")
    b = build_transfer_model("resnet18", 4, weights=path, trainable_from="layer4")
    torch.testing.assert_close(a.net.layer2[0].conv1.weight, b.net.layer2[0].conv1.weight)
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


def test_transfer_cv_online_augmentation_and_tta_learn_a_separable_problem():
    from neuro_lib.imaging.patches import transfer_cv

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 0.2, size=(40, 3, 11, 11)).astype(np.float32)
    y = np.r_[np.ones(20, np.int64), np.zeros(20, np.int64)]
    x[:20, :, 3:8, 3:8] += 0.8  # cells: a bright centre
    res = transfer_cv(x, y, "resnet18", trainable_from="conv1", n_splits=2, input_size=32, epochs=10,
                      batch_size=10, lr=2e-3, schedule="cosine", flips=True, tta=True, seed=0)
    assert len(res.per_fold) == 2 and (res.y_pred >= 0).all()
    assert np.mean(res.y_pred == y) >= 0.85
    with pytest.raises(ValueError, match="schedule"):
        transfer_cv(x, y, "resnet18", trainable_from="fc", n_splits=2, input_size=32, epochs=1, schedule="step")


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
