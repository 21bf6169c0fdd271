"""ResNet18 on the 3-channel projection images (Zhang et al. 2021, "CNN branch"; Table 2: learning rate 1e-5 for the
convolutional layers, 1e-4 for the last layer), and an optional autoencoder pretraining on unlabelled cells (the
paper pretrained on its unlabelled CASIA set; no ImageNet weights are available here, so the network starts from a
random initialisation or from this autoencoder).

``ProjectionResNet(n_classes)`` is torchvision's ``resnet18`` with a new last layer; ``.features(x)`` gives the
512-d penultimate features (the "CNN feature" of the fusion model) and ``.forward(x)`` the logits. The training
recipe (augmentation, two learning rates, early stopping on validation accuracy) belongs to the chapter that uses
the network, as a scikit-learn estimator.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["ProjectionResNet", "param_groups", "ConvDecoder", "pretrain_autoencoder", "PAPER_LR_CONV",
           "PAPER_LR_HEAD"]

#: Table 2 of Zhang et al. 2021
PAPER_LR_CONV = 1e-5
PAPER_LR_HEAD = 1e-4


class ProjectionResNet(nn.Module):
    """torchvision ResNet18 (random init) whose last layer maps the 512-d feature to ``n_classes`` logits.

    Input: float tensor (batch, 3, H, W) with H = W >= 32 (224 in the paper; 64-96 on a CPU); channels XY, XZ, YZ.
    ``features(x)`` -> (batch, 512); ``forward(x)`` -> (batch, n_classes).
    """

    def __init__(self, n_classes: int, dropout: float = 0.0):
        super().__init__()
        from torchvision.models import resnet18

        net = resnet18(weights=None)
        self.backbone = nn.Sequential(*list(net.children())[:-1])  # conv stem ... layer4, global avg pool
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(512, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, 3, H, W) -> (batch, 512) globally pooled features of the last residual stage."""
        return torch.flatten(self.backbone(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.features(x)))


def param_groups(model: ProjectionResNet, lr_conv: float = PAPER_LR_CONV, lr_head: float = PAPER_LR_HEAD):
    """Optimizer parameter groups: the convolutional backbone at ``lr_conv``, the last layer at ``lr_head``
    (Table 2: 1e-5 and 1e-4). Use as ``torch.optim.Adam(param_groups(model, ...))``."""
    return [{"params": model.backbone.parameters(), "lr": lr_conv}, {"params": model.fc.parameters(), "lr": lr_head}]


class ConvDecoder(nn.Module):
    """Decoder from the 512-d feature back to a (3, size, size) image (transposed convolutions from 4 x 4)."""

    def __init__(self, size: int):
        super().__init__()
        if size % 4 or size < 16:
            raise ValueError(f"size must be a multiple of 4 and >= 16, got {size}")
        self.size = size
        layers: list[nn.Module] = []
        ch, s = 256, 4
        self.fc = nn.Linear(512, ch * 4 * 4)
        while s < size:
            out = max(ch // 2, 16)
            layers += [nn.ConvTranspose2d(ch, out, 4, stride=2, padding=1), nn.BatchNorm2d(out), nn.ReLU(True)]
            ch, s = out, s * 2
        layers += [nn.Conv2d(ch, 3, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.net(self.fc(z).view(-1, 256, 4, 4))
        if x.shape[-1] != self.size:
            x = nn.functional.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return x


def pretrain_autoencoder(model: ProjectionResNet, images, *, epochs: int = 5, lr: float = 1e-3, batch_size: int = 64,
                         seed: int = 0, device="auto", progress: bool = True, max_steps: int | None = None):
    """Pretrain ``model``'s backbone as the encoder of an autoencoder on unlabelled images (N, 3, H, W), loss = BCE
    with logits between the reconstruction and the image (pixels in [0, 1]). The paper's analogue: pretraining on
    unlabelled CASIA images. Trains in place through :func:`neuro_lib.training.fit` (at most ``max_steps``
    optimisation steps when not ``None``); returns its History."""
    from ..training import fit

    images = torch.as_tensor(images, dtype=torch.float32)
    dec = ConvDecoder(images.shape[-1])

    class AE(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc, self.dec = model, dec

        def forward(self, x):
            return self.dec(self.enc.features(x))

    ae = AE()
    loss = nn.BCEWithLogitsLoss()
    return fit(ae, (images, images), None, loss_fn=loss, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
               device=device, progress=progress, desc="autoencoder pretraining", max_steps=max_steps)
