"""Real-size DINOv2-B/14 and SigLIP-B/16 with random weights: true speed without downloads.

Saved once under bench/out/models (git-ignored) and loaded through the production loader.
Architectures match facebook/dinov2-base and google/siglip-base-patch16-224, including
DINOv2's 518-px position table that is interpolated down to the 224-px input.
"""

from __future__ import annotations

from pathlib import Path

from embeddings.encoders.registry import EncoderSpec, get_spec, register
from embeddings.encoders.testing import save_dinov2, save_siglip

OUT = Path(__file__).resolve().parent / "out" / "models"

DINOV2_BASE = {
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "mlp_ratio": 4,
    "patch_size": 14,
    "image_size": 518,
}
SIGLIP_BASE_TOWER = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12}


def register_random(name: str) -> EncoderSpec:
    """Register ``name`` (dinov2-base or siglip-base-patch16-224) on random weights; return its spec."""
    import torch

    real = get_spec(name)
    directory = OUT / name
    if not (directory / "model.safetensors").is_file():
        torch.manual_seed(0)
        if real.family == "dinov2":
            save_dinov2(directory, DINOV2_BASE, resize=256, crop=224)
        else:
            save_siglip(
                directory,
                text_config=SIGLIP_BASE_TOWER | {"max_position_embeddings": 64},
                vision_config=SIGLIP_BASE_TOWER | {"patch_size": 16},
                image_size=224,
            )
    spec = EncoderSpec(
        name=name,
        family=real.family,
        source=str(directory),
        dim=real.dim,
        modality=real.modality,
        image_size=real.image_size,
        description="random weights, real architecture (benchmark only)",
    )
    register(spec)
    return spec
