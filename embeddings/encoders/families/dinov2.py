"""DINOv2: self-supervised ViT, the visual ("looks like") space.

We embed with the CLS token after the final layer norm (``pooler_output``). The paper's
linear probes concatenate CLS with the mean patch token, which helps classification
but doubles the vector (1536-d for ViT-B) and the index with it; for near-duplicate and
visual retrieval the CLS token is what DINOv2's own instance-retrieval results use.
"""

from __future__ import annotations

from typing import Any

import torch

from embeddings.encoders import preprocess, sources
from embeddings.encoders.backends import build_tower
from embeddings.encoders.base import ImageEncoder, PixelNormalise, example_pixels
from embeddings.encoders.families import hf
from embeddings.encoders.registry import EncoderSpec
from embeddings.encoders.runtime import Runtime


class PooledTower(torch.nn.Module):
    """uint8 pixels -> the CLS token after the final layer norm."""

    def __init__(self, model: Any, normalise: PixelNormalise) -> None:
        super().__init__()
        self.model = model
        self.normalise = normalise

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        pooled: torch.Tensor = self.model(pixel_values=self.normalise(pixels)).pooler_output
        return pooled


def load(spec: EncoderSpec, runtime: Runtime) -> ImageEncoder:
    directory = sources.resolve(spec, spec.source)
    model = hf.load_model(spec, directory, runtime)
    steps = preprocess.from_hf_config(directory)
    identity = hf.identity(spec, directory)
    tower = build_tower(
        PooledTower(model, PixelNormalise(steps).to(runtime.device)),
        name=spec.name,
        key=f"{identity}|image",
        runtime=runtime,
        examples=(example_pixels(steps),),
        input_names=["pixels"],
        output_names=["pooled"],
        dynamic_axes={"pixels": {0: "n"}, "pooled": {0: "n"}},
    )
    return ImageEncoder(spec=spec, identity=identity, runtime=runtime, preprocess=steps, tower=tower)
