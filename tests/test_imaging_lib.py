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
