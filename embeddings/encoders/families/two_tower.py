"""Contrastive image-text models (SigLIP, CLIP): an image tower and a text tower into one space.

Both families are a transformers model exposing ``get_image_features`` and
``get_text_features``; they differ only in how text is padded and how their
image processor's configuration reads, which each family module states. Both
towers are built with backends.build_tower, so each runs on torch or ONNX
Runtime like every other tower, and both outputs are L2-normalised float32.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch

from embeddings.encoders import preprocess, sources
from embeddings.encoders.backends import Tower, build_tower
from embeddings.encoders.base import ImageEncoder, PixelNormalise, example_pixels, l2_rows
from embeddings.encoders.errors import WeightsUnavailableError
from embeddings.encoders.families import hf
from embeddings.encoders.registry import EncoderSpec
from embeddings.encoders.runtime import Runtime


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
        # No attention mask, for both families: SigLIP was trained attending to its padding,
        # and CLIP's causal mask already hides the padding after EOS from the EOS token it pools.
        return _pooled(self.model.get_text_features(input_ids=input_ids))


class ImageTextEncoder(ImageEncoder):
    # Every text is padded (and truncated) to exactly this many tokens: the family's training length.
    text_length: ClassVar[int]

    @staticmethod
    def width(config: Any) -> int:
        """The width of the vectors a checkpoint with this transformers config makes."""
        raise NotImplementedError

    def __init__(self, *, tokenizer: Any, text_tower: Tower, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.text_tower = text_tower

    def tokenize(self, texts: Sequence[str]) -> np.ndarray:
        tokens = self.tokenizer(
            list(texts), padding="max_length", max_length=self.text_length, truncation=True, return_tensors="np"
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


E = TypeVar("E", bound=ImageTextEncoder)


def load(spec: EncoderSpec, runtime: Runtime, *, encoder: type[E], steps_square: bool) -> E:
    """Both towers of the checkpoint ``spec`` names, as an ``encoder``.

    ``steps_square`` is how the image processor reads a bare integer ``size``
    (transformers' ``default_to_square``): a square for SigLIP, the shortest edge for CLIP.
    """
    from transformers import AutoTokenizer

    directory = sources.resolve(spec, spec.source)
    model = hf.load_model(spec, directory, runtime)
    width = encoder.width(model.config)
    if width != spec.dim:
        # Another checkpoint under the expected name: its vectors would not fit the space's columns.
        raise WeightsUnavailableError(
            f"weights for {spec.name} in {directory} make {width}-d vectors, not the {spec.dim}-d "
            f"of {spec.source}; download them again with `hf download {spec.source}`"
        )
    tokenizer = AutoTokenizer.from_pretrained(directory)
    steps = preprocess.from_hf_config(directory, default_to_square=steps_square)
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
            tokenizer(["a photo"] * 2, padding="max_length", max_length=encoder.text_length)["input_ids"],
            dtype=np.int64,
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
    return encoder(
        tokenizer=tokenizer,
        text_tower=text_tower,
        spec=spec,
        identity=identity,
        runtime=runtime,
        preprocess=steps,
        tower=image_tower,
    )
