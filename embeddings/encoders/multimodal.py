"""A product's multimodal vector: its photos' mean blended with its own text, through the same text tower.

Marqo's "multimodal combination" and Vertex's product embeddings do this: a
listing is its photos *and* its words (title, brand, category, attributes,
description). The image mean and the text vector live in one space (the
semantic encoder's), so a weighted sum of the two, normalised, is a vector
of that space again. Pure numpy, no Django: the service and the quality
benchmark (bench/multimodal_quality.py) call the same two functions.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

# Characters of product text fed to the text tower. MiniLM and SigLIP read at most 64 to 256 tokens;
# the title and brand come first, so what is cut is the tail of the description.
MAX_TEXT_CHARS = 1000


def product_text(
    *,
    title: str,
    brand: str = "",
    category: str = "",
    attributes: Mapping[str, object] | None = None,
    description: str = "",
) -> str:
    """The words of a listing as the text tower reads them: most telling first, truncated."""
    values = [str(item) for value in (attributes or {}).values() for item in _flat(value)]
    parts = [title, brand, category, " ".join(values), description]
    return ". ".join(part.strip() for part in parts if part and part.strip())[:MAX_TEXT_CHARS]


def _flat(value: object) -> list[object]:
    """An attribute's words: a string or number, or those of a list ("sizes": ["S", "M"]); nested objects skipped."""
    if isinstance(value, bool):
        return []
    if isinstance(value, str | int | float):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str | int | float) and not isinstance(item, bool)]
    return []


def blend(image_means: np.ndarray, text_vectors: np.ndarray, weight: float) -> np.ndarray:
    """l2_normalize((1 - w) * image_mean + w * text_vector), row by row (float32, unit rows).

    Both inputs are unit rows of one encoder's space. w = 0 returns the image means unchanged.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"the text weight must be in [0, 1], got {weight}")
    means = np.asarray(image_means, dtype=np.float32)
    if weight == 0.0:
        return means
    mixed = (1.0 - weight) * means + weight * np.asarray(text_vectors, dtype=np.float32)
    norms = np.linalg.norm(mixed, axis=-1, keepdims=True)
    # Opposite unit vectors at w = 0.5 cancel out: fall back to the photos rather than divide by zero.
    return np.where(norms > 1e-6, mixed / np.maximum(norms, 1e-12), means).astype(np.float32, copy=False)
