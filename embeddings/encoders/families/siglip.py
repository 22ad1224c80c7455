"""SigLIP: images and text in one space, the semantic ("is the same kind of thing") space."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from embeddings.encoders import preprocess, sources
from embeddings.encoders.base import TorchImageEncoder, l2_normalise
from embeddings.encoders.families import hf
from embeddings.encoders.registry import EncoderSpec
from embeddings.encoders.runtime import Runtime

# SigLIP's text tower was trained on exactly 64 tokens padded with </s>, and it pools the
# last position, so shorter padding moves every text vector (see the model cards).
TEXT_LENGTH = 64


def _pooled(output: Any) -> torch.Tensor:
    # transformers < 5 returns the pooled tensor; 5.x returns BaseModelOutputWithPooling.
    if isinstance(output, torch.Tensor):
        return output
    pooled: torch.Tensor = output.pooler_output
    return pooled


class SiglipEncoder(TorchImageEncoder):
    def __init__(self, *, model: Any, tokenizer: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.tokenizer = tokenizer

    def _forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return _pooled(self.model.get_image_features(pixel_values=pixels))

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        tokens = self.tokenizer(
            list(texts), padding="max_length", max_length=TEXT_LENGTH, truncation=True, return_tensors="pt"
        )
        input_ids: torch.Tensor = tokens["input_ids"]
        return input_ids

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("encode_texts takes a sequence of strings, not one string")
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        outputs: list[np.ndarray] = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                # No attention mask: SigLIP was trained attending to its padding tokens.
                input_ids = self.tokenize(texts[start : start + self.batch_size]).to(self.runtime.device)
                with self._autocast():
                    embedded = _pooled(self.model.get_text_features(input_ids=input_ids))
                outputs.append(l2_normalise(embedded))
        return np.concatenate(outputs)


def load(spec: EncoderSpec, runtime: Runtime) -> SiglipEncoder:
    from transformers import AutoTokenizer

    directory = sources.resolve(spec, spec.source)
    model = hf.load_model(spec, directory, runtime)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    return SiglipEncoder(
        model=model,
        tokenizer=tokenizer,
        spec=spec,
        identity=hf.identity(spec, directory),
        runtime=runtime,
        preprocess=preprocess.from_hf_config(directory),
    )
