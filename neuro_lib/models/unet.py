"""U-Net (Ronneberger, Fischer & Brox 2015) for cell-probability maps of two-photon summary images
(Seong & Park's segmentation stage).

A direct implementation: ``depth`` down-sampling stages of two 3x3 convolutions (same padding, batch norm, ReLU) and
2x2 max pooling, a bottleneck, and ``depth`` up-sampling stages (2x2 transposed convolution, concatenation with the
skip connection, two 3x3 convolutions), then a 1x1 convolution to ``out_channels`` logits. Inputs of any size work:
the image is padded to a multiple of ``2**depth`` and the output cropped back.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["UNet"]


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """U-Net mapping (batch, in_channels, rows, cols) to (batch, out_channels, rows, cols) logits.

    Parameters: ``in_channels`` (4 for mean/max/std/correlation images), ``out_channels`` (1: cell probability after
    a sigmoid), ``base`` channels at the first stage (64 in the original; 16 is enough here), ``depth`` pooling
    stages (4 in the original). Channels double at each stage.
    """

    def __init__(self, in_channels: int = 4, out_channels: int = 1, base: int = 16, depth: int = 4):
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.depth = depth
        chans = [base * 2 ** i for i in range(depth + 1)]
        self.down = nn.ModuleList([_block(in_channels if i == 0 else chans[i - 1], chans[i]) for i in range(depth)])
        self.bottom = _block(chans[depth - 1], chans[depth])
        self.up = nn.ModuleList([nn.ConvTranspose2d(chans[i + 1], chans[i], 2, stride=2)
                                 for i in reversed(range(depth))])
        self.dec = nn.ModuleList([_block(2 * chans[i], chans[i]) for i in reversed(range(depth))])
        self.head = nn.Conv2d(chans[0], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[-2:]
        m = 2 ** self.depth
        ph, pw = (-H) % m, (-W) % m
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="reflect" if min(H, W) > max(ph, pw) else "constant")
        skips = []
        for blk in self.down:
            x = blk(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottom(x)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips)):
            x = dec(torch.cat([up(x), skip], dim=1))
        return self.head(x)[..., :H, :W]
