"""Loading helpers shared by the Hugging Face families (DINOv2, SigLIP, CLIP)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from embeddings.encoders import sources
from embeddings.encoders.errors import WeightsUnavailableError
from embeddings.encoders.registry import EncoderSpec
from embeddings.encoders.runtime import Runtime


def load_model(spec: EncoderSpec, directory: Path, runtime: Runtime) -> Any:
    """AutoModel from a resolved directory, with SDPA attention, in eval mode on the runtime's device."""
    from transformers import AutoModel

    try:
        # SDPA picks flash / memory-efficient kernels on CUDA and a fused kernel on CPU.
        model = AutoModel.from_pretrained(directory, attn_implementation="sdpa", dtype=torch.float32)
    except (OSError, ValueError) as exc:
        raise WeightsUnavailableError(
            f"weights for {spec.name} in {directory} could not be loaded ({type(exc).__name__}); "
            f"download them again with `hf download {spec.source}`"
        ) from None
    return model.eval().to(runtime.device)


def identity(spec: EncoderSpec, directory: Path) -> str:
    return f"{spec.name}@{sources.content_digest(sources.identity_files(directory))}"
