"""SigLIP: images and text in one space, the semantic ("is the same kind of thing") space."""

from __future__ import annotations

from typing import Any

from embeddings.encoders.families import two_tower
from embeddings.encoders.registry import EncoderSpec
from embeddings.encoders.runtime import Runtime

# SigLIP's text tower was trained on exactly 64 tokens padded with </s>, and it pools the
# last position, so shorter padding moves every text vector (see the model cards).
TEXT_LENGTH = 64


class SiglipEncoder(two_tower.ImageTextEncoder):
    text_length = TEXT_LENGTH

    @staticmethod
    def width(config: Any) -> int:
        # No projection: both towers' pooled outputs are as wide as the vision tower.
        return int(config.vision_config.hidden_size)


def load(spec: EncoderSpec, runtime: Runtime) -> SiglipEncoder:
    # SiglipImageProcessor squashes to {"height", "width"}; a bare integer size means a square too.
    return two_tower.load(spec, runtime, encoder=SiglipEncoder, steps_square=True)
