"""Query vectors from the shopper's words or photo, in the active encoders' spaces.

The encoders load lazily, on the first request that needs them, once per web
process (embeddings.encoders caches them): nothing heavy happens at import or
start-up, and a process that only serves /similar/ never loads a model.
Views call these before they open the request's transaction: no transaction
stays open while a model runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from config.errors import ApiError
from embeddings.selectors import ActiveEncoder

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from embeddings.encoders.base import Encoder


def _not_warming_up() -> None:
    from embeddings import warmup

    if warmup.loading():
        # The process is loading its models (seconds after a start): say so rather than hang the request.
        raise ApiError(
            "warming_up",
            "The search models are still loading after a restart; retry in a few seconds.",
            status_code=503,
            wait=warmup.RETRY_AFTER_SECONDS,
        )


def _loaded(active: ActiveEncoder) -> Encoder:
    from embeddings.encoders import WeightsUnavailableError, get_encoder

    try:
        encoder = get_encoder(active.name)
    except (WeightsUnavailableError, KeyError) as exc:
        raise ApiError(
            "encoder_unavailable",
            f"The {active.space} encoder {active.name!r} cannot be loaded here: {exc}",
            status_code=503,
        ) from exc
    if encoder.identity != active.identity:
        # Stored vectors came from other weights: comparing them with this query would be meaningless.
        raise ApiError(
            "encoder_mismatch",
            f"The {active.space} space holds vectors of {active.identity}, but this process loads "
            f"{encoder.identity}; install the same weights as the workers.",
            status_code=503,
        )
    return encoder


def _require(encoders: dict[str, ActiveEncoder], space: str) -> ActiveEncoder:
    active = encoders.get(space)
    if active is None:
        raise ApiError("not_ready", f"No {space} vectors yet: nothing has been embedded.", status_code=503)
    return active


def text_query_vector(text: str, encoders: dict[str, ActiveEncoder]) -> np.ndarray:
    """The semantic space's text tower applied to `text` (float32, unit length)."""
    _not_warming_up()
    encoder = _loaded(_require(encoders, "semantic"))
    if not encoder.supports_text:
        raise ApiError(
            "encoder_unavailable", f"The semantic encoder {encoder.name} cannot embed text.", status_code=503
        )
    vector: np.ndarray = encoder.encode_texts([text])[0]
    return vector


def image_query_vectors(image: Image.Image, encoders: dict[str, ActiveEncoder]) -> dict[str, np.ndarray]:
    """The photo in every space that has an active encoder (float32, unit length)."""
    _not_warming_up()
    if not encoders:
        raise ApiError("not_ready", "No vectors yet: nothing has been embedded.", status_code=503)
    return {space: _loaded(active).encode_images([image])[0] for space, active in encoders.items()}
