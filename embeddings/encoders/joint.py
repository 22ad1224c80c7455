"""Several encoders over the same images, each shared backbone run once.

The lite profile's two spaces both start from EfficientNet-Lite0's pooled
features: the visual vector is those features, the ConSE vector a classifier
head on them. Encoded one after the other they ran the network twice per
photo; here encoders that name the same backbone (and preprocessing) share one
pass, and each applies its own head. The vectors are the ones each encoder
gives alone (tested). Bytes are decoded inside the pass, overlapping the
forward pass of the previous batch; when several passes remain (DINOv2 and
SigLIP) they are decoded once, up front, for all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from embeddings.encoders.base import Encoder, ImageEncoder, l2_rows
from embeddings.encoders.cores import thread_budget
from embeddings.encoders.images import decode_image
from embeddings.encoders.preprocess import ImageInput


def _passes(encoders: Sequence[Encoder]) -> int:
    keys = {
        (encoder.backbone, encoder.preprocess)
        if isinstance(encoder, ImageEncoder) and encoder.backbone
        else id(encoder)
        for encoder in encoders
    }
    return len(keys)


def _decoded_once(encoders: Sequence[Encoder], images: Sequence[ImageInput]) -> list[ImageInput]:
    """Bytes decoded once, at the largest size any encoder needs, when several passes would each decode them."""
    if _passes(encoders) < 2 or not any(isinstance(image, bytes | bytearray | memoryview) for image in images):
        return list(images)
    size = max(encoder.preprocess.decode_size for encoder in encoders if isinstance(encoder, ImageEncoder))
    with ThreadPoolExecutor(max_workers=thread_budget().decode) as pool:
        return list(
            pool.map(
                lambda image: (
                    decode_image(bytes(image), min_size=size)
                    if isinstance(image, bytes | bytearray | memoryview)
                    else image
                ),
                images,
            )
        )


def encode_images_together(encoders: Sequence[Encoder], images: Sequence[ImageInput]) -> list[np.ndarray]:
    """Each encoder's vectors of `images`, in the encoders' order.

    Raises ImageDecodeError for the first undecodable item, like Encoder.encode_images.
    """
    images = _decoded_once(encoders, images)
    results: list[np.ndarray | None] = [None] * len(encoders)
    shared: dict[tuple[str, object], np.ndarray] = {}
    for index, encoder in enumerate(encoders):
        if not isinstance(encoder, ImageEncoder) or encoder.backbone is None or not images:
            results[index] = encoder.encode_images(images)
            continue
        key = (encoder.backbone, encoder.preprocess)
        if key not in shared:
            shared[key] = encoder.raw_outputs(images)
        results[index] = l2_rows(encoder.head(shared[key]))
    return [result for result in results if result is not None]
