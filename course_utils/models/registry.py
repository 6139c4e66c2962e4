"""``load(name)``: the lecture's ImageNet models, or their offline counterparts.

ImageNet weights are used when they are in the torch hub cache or can be downloaded;
otherwise (or with ``COURSE_OFFLINE=1``) the offline counterpart is returned with a one-line
notice. Every model is wrapped in :class:`~course_utils.models.base.CourseModel`: it takes RGB
in [0, 1], normalizes inside, is in eval mode, and names its layers by role.
"""
from __future__ import annotations

import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

import torch
import torchvision
from torch import nn

from ..config import WEIGHTS_DIR, default_device, offline_mode
from . import shapenet, texturenet
from .base import CourseModel

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
WEIGHT_CHOICES = ("auto", "imagenet", "offline", "random")


@dataclass(frozen=True)
class ImageNetSpec:
    builder: Callable[..., nn.Module]
    weights: torchvision.models.WeightsEnum
    roles: dict
    offline: str  # the offline counterpart's name
    extra: dict = None  # extra builder kwargs for random weights


_VGG_CODE = {"code": "classifier.4", "logits": "classifier.6"}
IMAGENET_MODELS: dict[str, ImageNetSpec] = {
    "alexnet": ImageNetSpec(
        torchvision.models.alexnet,
        torchvision.models.AlexNet_Weights.IMAGENET1K_V1,
        {
            "first_conv": "features.0",
            "conv_layers": ["features.0", "features.3", "features.6", "features.8", "features.10"],
            "last_conv": "features.11",
            "code": "classifier.5",
            "logits": "classifier.6",
            "content": "features.9",
            "style": ["features.1", "features.4", "features.7", "features.9", "features.11"],
            "deepdream": "features.9",
        },
        "shapenet",
    ),
    "squeezenet1_1": ImageNetSpec(
        torchvision.models.squeezenet1_1,
        torchvision.models.SqueezeNet1_1_Weights.IMAGENET1K_V1,
        {
            "first_conv": "features.0",
            "last_conv": "features.12",
            "code": "features.12",
            "logits": "classifier",
            "content": "features.7",
            "style": ["features.1", "features.3", "features.4", "features.6", "features.7"],
            "deepdream": "features.9",
        },
        "shapenet",
    ),
    "vgg16": ImageNetSpec(
        torchvision.models.vgg16,
        torchvision.models.VGG16_Weights.IMAGENET1K_V1,
        {
            "first_conv": "features.0",
            "last_conv": "features.29",
            **_VGG_CODE,
            "content": "features.20",
            "style": ["features.1", "features.6", "features.11", "features.18", "features.25"],
            "deepdream": "features.22",
        },
        "shapenet",
    ),
    "vgg19": ImageNetSpec(
        torchvision.models.vgg19,
        torchvision.models.VGG19_Weights.IMAGENET1K_V1,
        {
            "first_conv": "features.0",
            "last_conv": "features.35",
            **_VGG_CODE,
            "content": "features.22",  # relu4_2 (Gatys et al.)
            "style": ["features.1", "features.6", "features.11", "features.20", "features.29"],
            "deepdream": "features.26",
        },
        "texturenet",
    ),
    "googlenet": ImageNetSpec(
        torchvision.models.googlenet,
        torchvision.models.GoogLeNet_Weights.IMAGENET1K_V1,
        {
            "first_conv": "conv1.conv",
            "last_conv": "inception5b",
            "code": "avgpool",
            "logits": "fc",
            "content": "inception4a",
            "style": ["conv1", "conv3", "inception3b", "inception4b", "inception5a"],
            "deepdream": "inception4c",
        },
        "shapenet",
        {"aux_logits": False, "init_weights": True},
    ),
    "resnet18": ImageNetSpec(
        torchvision.models.resnet18,
        torchvision.models.ResNet18_Weights.IMAGENET1K_V1,
        {
            "first_conv": "conv1",
            "last_conv": "layer4",
            "code": "avgpool",
            "logits": "fc",
            "content": "layer3",
            "style": ["relu", "layer1", "layer2", "layer3", "layer4"],
            "deepdream": "layer3",
        },
        "shapenet",
    ),
}
OFFLINE_MODELS = ("shapenet", "texturenet")


def available_models() -> list[str]:
    """Names accepted by :func:`load`: the ImageNet models, then the offline ones."""
    return list(IMAGENET_MODELS) + list(OFFLINE_MODELS)


def offline_counterpart(name: str) -> str:
    """The offline model that stands in for ImageNet model ``name`` (e.g. vgg19 -> texturenet).

    Classifiers map to ``shapenet``; VGG-19, the lecture's feature extractor for style transfer
    and inversion, maps to ``texturenet``.
    """
    _check_name(name)
    return IMAGENET_MODELS[name].offline if name in IMAGENET_MODELS else name


def _check_name(name: str) -> str:
    if name not in IMAGENET_MODELS and name not in OFFLINE_MODELS:
        raise ValueError(f"unknown model {name!r}; available models: {', '.join(available_models())}")
    return name


def imagenet_weights_cached(name: str) -> bool:
    """True when the ImageNet weights of ``name`` are already in the torch hub cache."""
    url = IMAGENET_MODELS[_check_name(name)].weights.url
    return (Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name).exists()


def _notice(message: str) -> None:
    print(f"[course_utils] {message}", file=sys.stderr)


def _weights_host_reachable(url: str) -> bool:
    """A quick DNS look-up, so that a closed network fails at once instead of mid-download."""
    try:
        socket.getaddrinfo(urlparse(url).hostname, 443)
        return True
    except OSError:
        return False


def _imagenet(name: str, random: bool) -> tuple[nn.Module | None, str]:
    """The torchvision network with ImageNet (or random) weights, or ``(None, reason)``."""
    spec = IMAGENET_MODELS[name]
    if random:
        return spec.builder(weights=None, **(spec.extra or {})), ""
    if not imagenet_weights_cached(name):
        if offline_mode():
            return None, "COURSE_OFFLINE is set and they are not in the torch cache"
        if not _weights_host_reachable(spec.weights.url):
            return None, "they are not in the torch cache and there is no network"
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(30)  # a stalled download should fail, not hang
    try:
        return spec.builder(weights=spec.weights, progress=False), ""
    except Exception as error:  # a proxy, a truncated file...
        return None, f"loading them failed ({type(error).__name__}: {error})"
    finally:
        socket.setdefaulttimeout(previous)


def _shapenet(random: bool) -> CourseModel:
    from ..data.synthetic import CLASSES

    net = shapenet.ShapeNet(num_classes=len(CLASSES))
    mean, std, source = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), "random"
    if not random:
        path = WEIGHTS_DIR / "shapenet.pt"
        if not path.exists():
            raise FileNotFoundError(
                f"the offline ShapeNet weights are missing ({path}); "
                "recreate them with: python -m course_utils.models.train"
            )
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        net.load_state_dict({k: v.float() for k, v in checkpoint["state_dict"].items()})
        mean, std, source = checkpoint["mean"], checkpoint["std"], "offline"
    return CourseModel(
        net, name="shapenet", source=source, classes=CLASSES, roles=shapenet.ROLES,
        mean=mean, std=std, input_size=64,
    )  # fmt: skip


def _texturenet(random: bool) -> CourseModel:
    # Random filters follow the global RNG (so config.seed_everything makes them repeatable).
    net = texturenet.TextureNet(seed=int(torch.randint(2**31 - 1, ())) if random else 0)
    return CourseModel(
        net, name="texturenet", source="random" if random else "offline", classes=[],
        roles=texturenet.ROLES, mean=IMAGENET_MEAN, std=IMAGENET_STD, input_size=128,
    )  # fmt: skip


def load(name: str, *, weights: str = "auto", device: torch.device | str | None = None) -> CourseModel:
    """Load a model of the course, in eval mode, on ``device``.

    Args:
        name: ``alexnet``, ``squeezenet1_1``, ``vgg16``, ``vgg19``, ``googlenet``, ``resnet18``
            (torchvision ImageNet models), ``shapenet`` (offline classifier of the synthetic
            shapes) or ``texturenet`` (offline random multi-scale feature extractor).
        weights: ``"auto"`` (default): ImageNet weights if cached or downloadable, else the offline
            counterpart with a one-line notice (``COURSE_OFFLINE=1`` never tries to download);
            ``"imagenet"``: ImageNet weights or an error; ``"offline"``: the offline counterpart;
            ``"random"``: the named architecture with random weights (for tests).
        device: defaults to the GPU when there is one, else the CPU.

    Returns:
        a :class:`CourseModel`: input RGB ``(N, 3, H, W)`` in [0, 1]; ``.classes``, ``.roles``,
        ``.source`` tell what it is.

    Example:
        >>> model = load("alexnet")  # ImageNet AlexNet, or ShapeNet offline
        >>> model.roles["first_conv"]
        'features.0'
    """
    _check_name(name)
    if weights not in WEIGHT_CHOICES:
        raise ValueError(f"weights must be one of {', '.join(WEIGHT_CHOICES)}; got {weights!r}")
    random = weights == "random"
    model = None
    if name in IMAGENET_MODELS and weights in ("auto", "imagenet", "random"):
        net, reason = _imagenet(name, random)
        if net is not None:
            spec = IMAGENET_MODELS[name]
            model = CourseModel(
                net, name=name, source="random" if random else "imagenet",
                classes=spec.weights.meta["categories"], roles=spec.roles,
                mean=IMAGENET_MEAN, std=IMAGENET_STD, input_size=224,
            )  # fmt: skip
        elif weights == "imagenet":
            raise RuntimeError(
                f"ImageNet weights for {name} are not available: {reason} ({torch.hub.get_dir()}); "
                "use weights='auto' for the offline counterpart"
            )
    if model is None:
        offline_name = offline_counterpart(name)
        if offline_name != name and weights == "auto":
            _notice(f"no ImageNet weights for {name} ({reason}): using the offline model '{offline_name}'.")
        model = _shapenet(random) if offline_name == "shapenet" else _texturenet(random)
    model.requested = name
    model.eval()
    return model.to(default_device() if device is None else device)


_SOURCES = {
    "imagenet": "ImageNet weights (torchvision)",
    "offline": "no ImageNet weights: the course's offline model",
    "random": "random weights (untrained)",
}
_OFFLINE_WHAT = {
    "shapenet": "a small classifier trained on the course's synthetic shapes, 10 classes",
    "texturenet": "one layer of random filters, a stand-in feature extractor",
}


def describe(*models: CourseModel) -> str:
    """One line per model saying which network is actually in use and whether it carries ImageNet
    weights, after the run's device and mode. The set-up cell of every lecture notebook prints it, so
    a reader knows whether the pictures are the lecture's (ImageNet) or the offline stand-ins'.

    Example:
        >>> print(describe(load("alexnet")))  # offline
        device cpu | FAST mode | models in use:
          alexnet -> shapenet: no ImageNet weights: the course's offline model (a small classifier ...)
    """
    from ..config import fast_mode

    device = models[0].device if models else default_device()
    lines = [f"device {device} | {'FAST' if fast_mode() else 'full'} mode | models in use:"]
    for model in models:
        requested = getattr(model, "requested", model.name)
        name = model.name if requested == model.name else f"{requested} -> {model.name}"
        what = _SOURCES.get(model.source, model.source)
        if model.source == "offline" and model.name in _OFFLINE_WHAT:
            what += f" ({_OFFLINE_WHAT[model.name]})"
        lines.append(f"  {name}: {what}")
    return "\n".join(lines)
