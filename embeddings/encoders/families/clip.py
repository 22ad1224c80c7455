"""CLIP (OpenAI, and OpenCLIP's LAION checkpoints in the transformers format): a semantic space.

The same two towers as SigLIP (two_tower.py) over a CLIPModel: the image tower
is the projected CLS token, the text tower the projected EOS token. Preprocessing
is CLIPImageProcessor's: resize the shortest edge, centre-crop, OpenAI's mean and std.
"""

from __future__ import annotations

from typing import Any

from embeddings.encoders.families import two_tower
from embeddings.encoders.registry import EncoderSpec
from embeddings.encoders.runtime import Runtime

# CLIP's context length: 77 position embeddings. The tower pools the first EOS token and
# attends causally, so the padding after it changes nothing; a fixed length keeps one
# input shape for the exported graph and for batches.
TEXT_LENGTH = 77


class ClipEncoder(two_tower.ImageTextEncoder):
    text_length = TEXT_LENGTH

    @staticmethod
    def width(config: Any) -> int:
        return int(config.projection_dim)


def load(spec: EncoderSpec, runtime: Runtime) -> ClipEncoder:
    # The hub checkpoints keep the legacy processor config ("size": 224, "crop_size": 224), where
    # CLIPImageProcessor reads a bare size as the shortest edge (default_to_square=False).
    return two_tower.load(spec, runtime, encoder=ClipEncoder, steps_square=False)
