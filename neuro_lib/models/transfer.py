"""Transfer learning with torchvision ResNet18, ResNet50 and Inception-v3 (Seong & Park, Table 1 and Figure 3).

:func:`build_transfer_model` returns a :class:`TransferNet`: the torchvision network with its final layer replaced
for ``num_classes`` classes, weights from ImageNet (``weights="imagenet"``, downloaded by torchvision), from a local
file (``weights=PATH``, read with ``torch.load(..., weights_only=True)``) or random (``weights=None``), and a
``trainable_from`` block: every block before it is frozen (no gradients, batch norm kept in eval mode), the paper's
"multi-point" retraining from different depths.

Block names (``layer_names(arch)``), in forward order:

* ResNet18/50: ``conv1, bn1, layer1, layer2, layer3, layer4, fc``
* Inception-v3: ``Conv2d_1a_3x3, Conv2d_2a_3x3, Conv2d_2b_3x3, Conv2d_3b_1x1, Conv2d_4a_3x3, Mixed_5b, Mixed_5c,
  Mixed_5d, Mixed_6a, Mixed_6b, Mixed_6c, Mixed_6d, Mixed_6e, Mixed_7a, Mixed_7b, Mixed_7c, fc`` (the auxiliary
  classifier is off). Inception-v3 needs inputs of at least 75x75 pixels.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

__all__ = ["ARCHITECTURES", "MIN_INPUT", "layer_names", "TransferNet", "build_transfer_model", "load_trunk",
           "save_trunk", "split_model", "AutoencoderPretrainer"]

ARCHITECTURES = ("resnet18", "resnet50", "inception_v3")
MIN_INPUT = {"resnet18": 32, "resnet50": 32, "inception_v3": 75}

_RESNET_BLOCKS = ["conv1", "bn1", "layer1", "layer2", "layer3", "layer4", "fc"]
_INCEPTION_BLOCKS = ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3", "Mixed_5b",
                     "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a",
                     "Mixed_7b", "Mixed_7c", "fc"]


def layer_names(arch: str) -> list[str]:
    """The trainable blocks of ``arch`` in forward order (valid values of ``trainable_from``)."""
    _check_arch(arch)
    return list(_INCEPTION_BLOCKS if arch == "inception_v3" else _RESNET_BLOCKS)


def _check_arch(arch: str) -> None:
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; expected one of {', '.join(ARCHITECTURES)}")


class TransferNet(nn.Module):
    """A torchvision classifier with a frozen prefix. ``net`` is the torchvision model, ``arch`` its name,
    ``frozen`` the names of the frozen blocks. ``forward`` returns logits (batch, num_classes); ``features`` the
    last feature map (batch, channels, h, w) before global pooling."""

    def __init__(self, net: nn.Module, arch: str, frozen: list[str]):
        super().__init__()
        self.net, self.arch, self.frozen = net, arch, list(frozen)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        n = self.net
        if self.arch == "inception_v3":
            for name in _INCEPTION_BLOCKS[:-1]:
                x = getattr(n, name)(x)
                if name in ("Conv2d_2b_3x3", "Conv2d_4a_3x3"):
                    x = n.maxpool1(x) if name == "Conv2d_2b_3x3" else n.maxpool2(x)
            return x
        x = n.maxpool(n.relu(n.bn1(n.conv1(x))))
        return n.layer4(n.layer3(n.layer2(n.layer1(x))))

    def train(self, mode: bool = True):
        super().train(mode)
        for name in self.frozen:  # frozen blocks keep their batch-norm statistics
            getattr(self.net, name).eval()
        return self

    def trainable_blocks(self) -> list[str]:
        return [b for b in layer_names(self.arch) if b not in self.frozen]


def _ops(model: TransferNet) -> list[tuple[str, nn.Module]]:
    n = model.net
    if model.arch == "inception_v3":
        seq = []
        for name in _INCEPTION_BLOCKS[:-1]:
            seq.append((name, getattr(n, name)))
            if name == "Conv2d_2b_3x3":
                seq.append(("maxpool1", n.maxpool1))
            if name == "Conv2d_4a_3x3":
                seq.append(("maxpool2", n.maxpool2))
        return seq + [("avgpool", n.avgpool), ("dropout", n.dropout), ("flatten", nn.Flatten()), ("fc", n.fc)]
    return [("conv1", n.conv1), ("bn1", n.bn1), ("relu", n.relu), ("maxpool", n.maxpool), ("layer1", n.layer1),
            ("layer2", n.layer2), ("layer3", n.layer3), ("layer4", n.layer4), ("avgpool", n.avgpool),
            ("flatten", nn.Flatten()), ("fc", n.fc)]


def split_model(model: TransferNet) -> tuple[nn.Sequential, nn.Sequential]:
    """Split a :class:`TransferNet` into its frozen prefix and trainable suffix (both ``nn.Sequential`` sharing the
    model's modules) such that ``suffix(prefix(x)) == model(x)`` in eval mode. The prefix is empty when nothing is
    frozen. Frozen blocks are a fixed function, so a trainer can compute their output once per input and train the
    suffix alone: the same model, for a fraction of the CPU time."""
    ops = _ops(model)
    first = model.trainable_blocks()[0]
    k = [name for name, _ in ops].index(first)
    return nn.Sequential(*[m for _, m in ops[:k]]), nn.Sequential(*[m for _, m in ops[k:]])


def _torchvision_model(arch: str, num_classes: int, imagenet: bool) -> nn.Module:
    import torchvision.models as tvm

    if arch == "inception_v3":
        w = tvm.Inception_V3_Weights.DEFAULT if imagenet else None
        net = tvm.inception_v3(weights=w, aux_logits=True if imagenet else False, init_weights=not imagenet)
        net.aux_logits, net.AuxLogits = False, None
    else:
        fn = getattr(tvm, arch)
        w = getattr(tvm, {"resnet18": "ResNet18_Weights", "resnet50": "ResNet50_Weights"}[arch]).DEFAULT if imagenet \
            else None
        net = fn(weights=w)
    net.fc = nn.Linear(net.fc.in_features, num_classes)
    return net


def build_transfer_model(arch: str, num_classes: int, *, trainable_from: str | None = None,
                         weights: str | os.PathLike | None = None) -> TransferNet:
    """A torchvision ``arch`` (``"resnet18"``, ``"resnet50"``, ``"inception_v3"``) with a new ``num_classes``-way
    final layer.

    Parameters
    ----------
    trainable_from : the first block that is trained (see :func:`layer_names`); all blocks before it are frozen.
        ``None`` trains everything; ``"fc"`` only the new final layer.
    weights : ``None`` (random initialisation), ``"imagenet"`` (torchvision's ImageNet weights, downloaded: needs
        the internet) or a path to a state dict of the torchvision model (e.g. from :func:`save_trunk`), read with
        ``torch.load(path, weights_only=True)``; its ``fc.*`` entries are ignored (the head is new).

    Raises ``ValueError`` for an unknown architecture or block name, ``FileNotFoundError`` for a missing weights
    file, and ``ValueError`` if the file's keys do not fit the architecture (names the missing/unexpected keys).
    """
    _check_arch(arch)
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    names = layer_names(arch)
    if trainable_from is not None and trainable_from not in names:
        raise ValueError(f"trainable_from={trainable_from!r} is not a block of {arch}; expected one of {names}")
    net = _torchvision_model(arch, num_classes, imagenet=(weights == "imagenet"))
    if weights not in (None, "imagenet"):
        _load_state(net, arch, weights)
    frozen = names[:names.index(trainable_from)] if trainable_from is not None else []
    for name in frozen:
        for p in getattr(net, name).parameters():
            p.requires_grad_(False)
    return TransferNet(net, arch, frozen)


def _load_state(net: nn.Module, arch: str, weights: str | os.PathLike) -> None:
    path = Path(weights)
    if not path.exists():
        raise FileNotFoundError(f"weights file {path} does not exist")
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("fc.")]
    if missing or unexpected:
        raise ValueError(f"weights file {path} does not fit {arch}: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")


def load_trunk(model: TransferNet, weights: str | os.PathLike) -> TransferNet:
    """Load a saved trunk (a state dict of the torchvision network, e.g. from :func:`save_trunk`; ``fc.*`` entries
    ignored) into ``model`` in place, keeping its final layer; returns ``model``. Raises ``FileNotFoundError`` for a
    missing file and ``ValueError`` naming the missing/unexpected keys if it does not fit the architecture."""
    _load_state(model.net, model.arch, weights)
    return model


def save_trunk(model: TransferNet, path: str | os.PathLike) -> Path:
    """Save ``model.net``'s state dict without the final layer (``fc.*``) to ``path``, for ``weights=path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v for k, v in model.net.state_dict().items() if not k.startswith("fc.")}, path)
    return path


class AutoencoderPretrainer(nn.Module):
    """Autoencoder around a :class:`TransferNet`'s trunk, for self-supervised pretraining on unlabelled patches
    when no ImageNet weights can be downloaded: the trunk's last feature map goes through a 1x1 convolution to 64
    channels, is upsampled bilinearly to the input size and decoded by two 3x3 convolutions to the input channels.
    ``forward(x)`` returns the reconstruction (same shape as ``x``); train it with a mean squared error."""

    def __init__(self, model: TransferNet, in_channels: int = 3):
        super().__init__()
        self.model = model
        ch = model.net.fc.in_features
        self.squeeze = nn.Conv2d(ch, 64, 1)
        self.decode = nn.Sequential(nn.Conv2d(64, 32, 3, padding=1), nn.ReLU(inplace=True),
                                    nn.Conv2d(32, in_channels, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.relu(self.squeeze(self.model.features(x)))
        z = nn.functional.interpolate(z, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return self.decode(z)
