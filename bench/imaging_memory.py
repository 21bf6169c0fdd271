"""Parameters and memory of one training step of each imaging gpu-profile network, at its gpu batch size.

The gpu profile (``neuro_lib.imaging.chapter.PROFILE_SETTINGS["gpu"]``) trains the U-Net on ``unet_crop`` (128)
pixel crops of the four summary images (mean, max, sd, correlation) at ``unet_batch_size`` (16), ``unet_base`` (32)
channels and ``unet_depth`` (4) pooling stages, with the BCE + Dice loss; and the patch classifiers (ResNet18,
ResNet50, Inception-v3, the whole network trained: the largest of the transfer-learning runs) at their input size
(224, 224, 299 pixels) and ``patch_batch_size`` (32), with cross-entropy. Each row is
:func:`neuro_lib.training.step_memory` (forward, loss, backward, Adam; CPU, float32): ``persistent`` = weights,
buffers, gradients, Adam's moments and the batch; ``peak`` = the largest total of live tensors during one step
(``torch.profiler`` memory timeline). Inception-v3 trains with its auxiliary head off here (logits only). On a GPU
the CUDA context and cuDNN workspaces come on top. Usage: ``python bench/imaging_memory.py [--repeats 3]``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neuro_lib.imaging.chapter import PROFILE_SETTINGS  # noqa: E402
from neuro_lib.imaging.segmentation import BCEDiceLoss  # noqa: E402
from neuro_lib.imaging.summary import SUMMARY_CHANNELS  # noqa: E402
from neuro_lib.models.transfer import build_transfer_model  # noqa: E402
from neuro_lib.models.unet import UNet  # noqa: E402
from neuro_lib.training import memory_table, step_memory  # noqa: E402


def main(argv=None) -> int:
    import torch

    gpu = PROFILE_SETTINGS["gpu"]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    print(f"one training step (CPU, float32, torch {torch.__version__})")
    rows = []
    c, b = len(SUMMARY_CHANNELS), gpu["unet_batch_size"]
    unet = UNet(c, 1, base=gpu["unet_base"], depth=gpu["unet_depth"])
    x, y = torch.randn(b, c, gpu["unet_crop"], gpu["unet_crop"]), torch.rand(b, 1, gpu["unet_crop"], gpu["unet_crop"])
    rows.append((f"U-Net (base {gpu['unet_base']}, depth {gpu['unet_depth']})",
                 f"{c} x {gpu['unet_crop']} x {gpu['unet_crop']}", b,
                 step_memory(unet, x, y, loss=BCEDiceLoss(), repeats=args.repeats)))
    b = gpu["patch_batch_size"]
    for arch, size in gpu["input_size"].items():
        net = build_transfer_model(arch, 2)
        if hasattr(net.net, "aux_logits"):
            net.net.aux_logits, net.net.AuxLogits = False, None
        x, y = torch.randn(b, 3, size, size), torch.randint(0, 2, (b,))
        rows.append((f"{arch} (all layers trained)", f"3 x {size} x {size}", b,
                     step_memory(net, x, y, repeats=args.repeats)))
    print(memory_table(rows, seconds=time.perf_counter() - t0))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
