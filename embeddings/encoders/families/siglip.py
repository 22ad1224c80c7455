"""SigLIP: images and text in one space, the semantic ("is the same kind of thing") space."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from embeddings.encoders import preprocess, sources
from embeddings.encoders.backends import Tower, build_tower
from embeddings.encoders.base import ImageEncoder, PixelNormalise, example_pixels, l2_rows
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


class ImageTower(torch.nn.Module):
    def __init__(self, model: Any, normalise: PixelNormalise) -> None:
        super().__init__()
        self.model = model
        self.normalise = normalise

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return _pooled(self.model.get_image_features(pixel_values=self.normalise(pixels)))


class TextTower(torch.nn.Module):
    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        # No attention mask: SigLIP was trained attending to its padding tokens.
        return _pooled(self.model.get_text_features(input_ids=input_ids))


class SiglipEncoder(ImageEncoder):
    def __init__(self, *, tokenizer: Any, text_tower: Tower, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.text_tower = text_tower

    def tokenize(self, texts: Sequence[str]) -> np.ndarray:
        tokens = self.tokenizer(
            list(texts), padding="max_length", max_length=TEXT_LENGTH, truncation=True, return_tensors="np"
        )
        return np.asarray(tokens["input_ids"], dtype=np.int64)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("encode_texts takes a sequence of strings, not one string")
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        outputs = [
            self.text_tower(self.tokenize(texts[start : start + self.batch_size]))[0]
            for start in range(0, len(texts), self.batch_size)
        ]
        return l2_rows(np.concatenate(outputs))


def load(spec: EncoderSpec, runtime: Runtime) -> SiglipEncoder:
    from transformers import AutoTokenizer

    directory = sources.resolve(spec, spec.source)
    model = hf.load_model(spec, directory, runtime)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    steps = preprocess.from_hf_config(directory)
    identity = hf.identity(spec, directory)
    image_tower = build_tower(
        ImageTower(model, PixelNormalise(steps).to(runtime.device)),
        name=spec.name,
        key=f"{identity}|image",
        runtime=runtime,
        examples=(example_pixels(steps),),
        input_names=["pixels"],
        output_names=["features"],
        dynamic_axes={"pixels": {0: "n"}, "features": {0: "n"}},
    )
    example_ids = torch.from_numpy(
        np.asarray(
            tokenizer(["a photo"] * 2, padding="max_length", max_length=TEXT_LENGTH)["input_ids"], dtype=np.int64
        )
    )
    text_tower = build_tower(
        TextTower(model),
        name=f"{spec.name} (text)",
        key=f"{identity}|text",
        runtime=runtime,
        examples=(example_ids,),
        input_names=["input_ids"],
        output_names=["features"],
        dynamic_axes={"input_ids": {0: "n"}, "features": {0: "n"}},
    )
    return SiglipEncoder(
        tokenizer=tokenizer,
        text_tower=text_tower,
        spec=spec,
        identity=identity,
        runtime=runtime,
        preprocess=steps,
        tower=image_tower,
    )
