"""ResNet18 on the 3-channel projection images (Zhang et al. 2021, "CNN branch"; Table 2: learning rate 1e-5 for the
convolutional layers, 1e-4 for the last layer), and an optional autoencoder pretraining on unlabelled cells (the
paper pretrained on its unlabelled CASIA set; no ImageNet weights are available here, so the network starts from a
random initialisation or from this autoencoder).

``ProjectionResNet(n_classes)`` is torchvision's ``resnet18`` with a new last layer; ``.features(x)`` gives the
512-d penultimate features (the "CNN feature" of the fusion model) and ``.forward(x)`` the logits.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["ProjectionResNet", "param_groups", "train_projection_cnn", "ConvDecoder", "pretrain_autoencoder",
           "PAPER_LR_CONV", "PAPER_LR_HEAD"]

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
                         seed: int = 0, device="auto", progress: bool = True):
    """Pretrain ``model``'s backbone as the encoder of an autoencoder on unlabelled images (N, 3, H, W), loss = BCE
    with logits between the reconstruction and the image (pixels in [0, 1]). The paper's analogue: pretraining on
    unlabelled CASIA images. Trains in place through :func:`neuro_lib.training.fit`; returns its History."""
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
               device=device, progress=progress, desc="autoencoder pretraining")


def train_projection_cnn(images, y, fold, *, n_classes: int | None = None, epochs: int = 10,
                         lr_conv: float = PAPER_LR_CONV, lr_head: float = PAPER_LR_HEAD, batch_size: int = 32,
                         augment: bool = True, degrees: float = 180.0, seed: int = 0, device="auto",
                         patience: int | None = None, init_state: dict | None = None, progress: bool = False):
    """Train a :class:`ProjectionResNet` on one fold and return ``(model, test_probabilities, history)``.

    Parameters
    ----------
    images : (N, 3, S, S) float array of projections (:func:`neuro_lib.morphology.projections.project`).
    y : (N,) int class indices.
    fold : an object with ``train``, ``val``, ``test`` index arrays (:class:`neuro_lib.morphology.data.Fold`);
        augmentation (random rotation, zoom, translation, :func:`~neuro_lib.morphology.projections.augment_images`)
        is applied to training batches only, drawn afresh each epoch.
    degrees : the rotation range of that augmentation, uniform in +-``degrees`` (180: any orientation, the paper's
        setting; a smaller range keeps the cells' orientation, e.g. the apical dendrite pointing to the pia).
    lr_conv, lr_head : Adam learning rates of the backbone and of the last layer (Table 2: 1e-5 and 1e-4).
    init_state : a backbone ``state_dict`` to start from (e.g. after :func:`pretrain_autoencoder`).

    Early stopping keeps the weights with the best validation accuracy (``neuro_lib.training.fit``).
    """
    import numpy as np

    from ..morphology.projections import augment_images
    from ..training import fit, predict

    X = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(y), dtype=torch.long)
    k = int(n_classes or int(y.max()) + 1)
    torch.manual_seed(seed)
    model = ProjectionResNet(k)
    if init_state is not None:
        model.backbone.load_state_dict(init_state)
    opt = torch.optim.Adam(param_groups(model, lr_conv, lr_head))
    gen = torch.Generator().manual_seed(seed + 1)
    ce = nn.CrossEntropyLoss()

    def step(m, batch, progress_):
        xb, yb = batch
        if augment:
            xb = augment_images(xb, degrees=degrees, generator=gen)
        return ce(m(xb), yb)

    Xv, yv = X[fold.val], y[fold.val]
    if len(fold.train) % batch_size == 1:  # a last batch of one image cannot be batch-normalised in training mode
        batch_size += 1

    def val_acc(m):
        if len(yv) == 0:
            return 0.0
        dev = next(m.parameters()).device
        out = predict(m, Xv, batch_size=256, device=dev)
        return float((out.argmax(1) == yv.numpy()).mean())

    hist = fit(model, (X[fold.train], y[fold.train]), (Xv, yv) if len(yv) else None, train_step=step,
               val_step=lambda m, b: ce(m(b[0]), b[1]), val_score=val_acc if len(yv) else None, epochs=epochs,
               batch_size=batch_size, seed=seed, device=device, optimizer=opt, patience=patience,
               progress=progress, desc="ResNet18")
    logits = predict(model, X[fold.test], batch_size=256)
    prob = torch.softmax(torch.as_tensor(logits), 1).numpy()
    return model, prob, hist
