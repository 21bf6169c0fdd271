"""Amplitude/width extraction (Buccino et al. 2018, Section II-C) and the CNN's shapes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from neuro_lib.mea.features import MIN_AMPLITUDE, SILENT_WIDTH, eap_features, feature_images

DT = 2.0 ** -5


def _gauss(t, t0, sd, a):
    return a * np.exp(-0.5 * ((t - t0) / sd) ** 2)


def test_amplitude_and_width_of_a_synthetic_waveform():
    t = np.arange(224) * DT
    w = _gauss(t, 2.0, 0.1, -80.0) + _gauss(t, 2.5, 0.2, 25.0)    # trough at 2 ms, peak near 2.5 ms
    w += _gauss(t, 1.0, 0.1, 40.0)                               # a bigger positive peak *before* the trough
    f = eap_features(w[None, :], DT)[:, 0]
    tn, tp = np.argmin(w), 64 + np.argmax(w[64:])
    assert tn == 64
    assert f[0] == pytest.approx(w[tp] - w[tn], rel=1e-5)         # the peak that follows, not the earlier one
    assert f[1] == pytest.approx((tp - tn) * DT)
    assert 0.4 < f[1] < 0.6
    assert f[2] == pytest.approx(w.min(), rel=1e-5)
    assert f[3] == 0


def test_five_microvolt_rule():
    t = np.arange(224) * DT
    small = _gauss(t, 2.0, 0.1, -3.0) + _gauss(t, 2.5, 0.2, 1.5)  # 4.5 uV peak to peak
    big = _gauss(t, 2.0, 0.1, -4.0) + _gauss(t, 2.5, 0.2, 2.0)    # 6 uV
    f = eap_features(np.stack([small, big]), DT)
    assert MIN_AMPLITUDE == 5.0 and SILENT_WIDTH == 7.0
    assert f[0, 0] == 0 and f[1, 0] == 7.0
    assert f[0, 1] > 5 and f[1, 1] < 1


def test_trough_delay_and_images():
    x = np.zeros((2, 100, 224), np.float32)
    x[:, 0, 70] = -50
    x[:, 1, 60] = -10
    x[:, 1, 80] = 5
    f = eap_features(x, DT)
    assert f.shape == (2, 4, 100)
    assert f[0, 3, 1] == pytest.approx(-10 * DT)
    img = feature_images(f)
    assert img.shape == (2, 2, 10, 10)
    assert img[0, 0, 0, 1] == pytest.approx(15.0)
    with pytest.raises(ValueError):
        eap_features(np.zeros(5), DT)


@pytest.mark.parametrize("n_classes,channels", [(2, 2), (13, 2), (13, 4)])
def test_cnn_output_shapes(n_classes, channels):
    from neuro_lib.models.mea_cnn import MEACNN

    m = MEACNN(n_classes, in_channels=channels)
    x = torch.randn(7, channels, 10, 10)
    m.fit_scaler(x)
    out = m(x)
    assert out.shape == (7, n_classes)
    assert sum(p.numel() for p in m.parameters()) > 500_000      # the dense 1024 layer
    with pytest.raises(ValueError):
        m(torch.randn(7, channels, 8, 8))


def test_chapter_settings():
    from neuro_lib.mea import CELL_MODELS, chapter

    cpu = chapter.settings("cpu")
    assert cpu["cells"] == list(CELL_MODELS) and cpu["n_per_cell"] == 1000 and cpu["epochs"] > cpu["patience"]
    smoke = chapter.settings("smoke", epochs=3, cells=None)          # None keeps the profile's value
    assert smoke["epochs"] == 3 and len(smoke["cells"]) == 2
    with pytest.raises(ValueError, match="unknown MEA setting"):
        chapter.settings("cpu", epoch=3)
    with pytest.raises(ValueError, match="unknown profile"):
        chapter.settings("laptop")
