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
from embeddings.encoders.base import TorchImageEncoder
from embeddings.encoders.families import hf
from embeddings.encoders.registry import EncoderSpec
from embeddings.encoders.runtime import Runtime


class Dinov2Encoder(TorchImageEncoder):
    def __init__(self, *, model: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model

    def _forward(self, pixels: torch.Tensor) -> torch.Tensor:
        output = self.model(pixel_values=pixels)
        pooled: torch.Tensor = output.pooler_output
        return pooled


def load(spec: EncoderSpec, runtime: Runtime) -> Dinov2Encoder:
    directory = sources.resolve(spec, spec.source)
    model = hf.load_model(spec, directory, runtime)
    return Dinov2Encoder(
        model=model,
        spec=spec,
        identity=hf.identity(spec, directory),
        runtime=runtime,
        preprocess=preprocess.from_hf_config(directory),
    )
