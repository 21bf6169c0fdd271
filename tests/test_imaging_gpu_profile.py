"""Each imaging page that trains networks (02 U-Net, 03 patch classification, 04 two-stage pipeline) in its gpu
profile's configuration (U-Nets of 32 channels and 4 pooling stages on 128-pixel crops in batches of 16; 101-pixel
patches at 224/299 pixels, the paper's input sizes) on the CPU, with every network fit and autoencoder pretraining
capped at one optimisation step, one seed (the gpu profile trains 5; the smoke profile's 2 run the seed loop) and
the data cut down (page 3: 24 patches, 2 folds, one Table 1 row per architecture, and ``jitter=0``, which skips its
second cross-validation of the best row on exactly centred patches, the same network again; page 4: 10 candidates
per quadrant, each classified with its 8 symmetries; page 2 without suite2p, whose grid is CPU work at any scale),
so the first GPU user does not meet a crash. Page 01 trains nothing: its gpu settings are the cpu ones (every
frame). Page 04 reuses page 02's U-Nets from the cache when both run in one session (under pytest-xdist's
``--dist loadfile`` one worker runs the whole file, in order). Run with ``pytest -m gpu_profile`` (``-n 2 --dist
loadfile`` as ``make test``)."""
import json
from pathlib import Path

import pytest

from neuro_lib import results
from neuro_lib.imaging import chapter

pytestmark = pytest.mark.gpu_profile

ROOT = Path(__file__).resolve().parents[1]
GPU = chapter.PROFILE_SETTINGS["gpu"]
CAPPED = {"max_steps": 1, "threads": 1, "n_seeds": 1}  # one seed: the smoke run covers the seed loop
ROWS = [["resnet18", "conv1", "pretrained"], ["resnet50", "layer4", "random"], ["inception_v3", "fc", "pretrained"]]
PAGES = {"02_segmentation": {**CAPPED, "run_suite2p": False},
         "03_patch_classification": {**CAPPED, "n_patches": 24, "ae_patches": 16, "n_splits": 2, "n_aug": 1,
                                     "runs": ROWS, "jitter": 0},
         "04_pipeline": {**CAPPED, "max_candidates": 10}}
#: settings each page records in its results file that must be the gpu profile's (the rest are capped above)
RECORDED = {"02_segmentation": ("unet_base", "unet_depth", "unet_crop", "unet_batch_size", "unet_epochs"),
            "03_patch_classification": ("patch_size", "input_size", "patch_batch_size", "patch_epochs",
                                        "ae_epochs")}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_imaging_page_runs_in_its_gpu_configuration(name, tmp_path, data_mirror):
    from neuro_lib.run import run_notebook

    out = run_notebook(ROOT / "book" / "imaging" / f"{name}.py", {"profile": "gpu", "device": "cpu", **PAGES[name]},
                       tmp_path, progress=False)
    doc = json.loads(out.with_suffix(".json").read_text())
    params = doc["parameters"]
    assert params["profile"] == "gpu" and doc["execution"]["parameters"]["device"] == "cpu"
    for k in RECORDED.get(name, ()):
        assert params[k] == GPU[k], k
    assert params["max_steps"] == 1
    if name == "04_pipeline":  # the second stage is the gpu profile's ResNet18 at the paper's input size
        clf = params["classifier"]
        assert (clf["input_size"], clf["epochs"], clf["max_steps"]) == (GPU["input_size"]["resnet18"],
                                                                       GPU["pipe_epochs"], 1)
    if name == "03_patch_classification":
        assert [list(r) for r in params["runs"]] == ROWS
    assert doc["metrics"] and all(results.parse_key(k) for k in doc["metrics"])
    nb = json.loads(out.read_text())
    assert not [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
