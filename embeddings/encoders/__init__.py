"""Image and text encoders for Lookalike, with no Django in sight.

Importing this package is cheap: torch and transformers load on the first
``get_encoder`` call, once per process. It reads no environment: the host
(Django's settings through embeddings/apps.py, or a script) hands it an
``EncoderOptions`` with ``configure`` before the first model loads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from embeddings.encoders.errors import ImageDecodeError, WeightsUnavailableError
from embeddings.encoders.images import decode_image
from embeddings.encoders.options import EncoderOptions, configure
from embeddings.encoders.registry import PROFILES, EncoderSpec, get_spec, register, registered_names
from embeddings.encoders.sources import weights_available

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from embeddings.encoders.base import Encoder

__all__ = [
    "PROFILES",
    "EncoderOptions",
    "EncoderSpec",
    "ImageDecodeError",
    "WeightsUnavailableError",
    "configure",
    "decode_image",
    "encode_images",
    "encode_texts",
    "get_encoder",
    "get_spec",
    "register",
    "registered_names",
    "weights_available",
]


def get_encoder(name: str) -> Encoder:
    """The loaded encoder for ``name`` (cached per process; thread-safe)."""
    from embeddings.encoders.loader import get_encoder as load

    return load(name)


def encode_images(name: str, images: Sequence[Image.Image | bytes]) -> np.ndarray:
    return get_encoder(name).encode_images(images)


def encode_texts(name: str, texts: Sequence[str]) -> np.ndarray:
    return get_encoder(name).encode_texts(texts)
