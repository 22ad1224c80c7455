"""Fixtures for the encoder tests: tiny local checkpoints and real photos, no Django, no database."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from embeddings.encoders import EncoderOptions, options
from embeddings.encoders.base import Encoder
from embeddings.encoders.loader import load_encoder
from embeddings.encoders.registry import EncoderSpec, get_spec
from embeddings.encoders.runtime import select_runtime
from embeddings.encoders.testing import build_tiny_models


def jpeg_bytes(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def tiny_specs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, EncoderSpec]:
    return build_tiny_models(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(scope="session")
def tiny_dinov2(tiny_specs: dict[str, EncoderSpec]) -> Encoder:
    return load_encoder(tiny_specs["tiny-dinov2"], select_runtime("cpu", "fp32"))


@pytest.fixture(scope="session")
def tiny_siglip(tiny_specs: dict[str, EncoderSpec]) -> Encoder:
    return load_encoder(tiny_specs["tiny-siglip"], select_runtime("cpu", "fp32"))


@pytest.fixture(scope="session")
def tiny_clip(tiny_specs: dict[str, EncoderSpec]) -> Encoder:
    return load_encoder(tiny_specs["tiny-clip"], select_runtime("cpu", "fp32"))


@pytest.fixture(scope="session")
def photos() -> list[Image.Image]:
    """Real photographs that ship with scikit-image and scikit-learn."""
    from skimage import data
    from sklearn.datasets import load_sample_images

    arrays = [data.chelsea(), data.astronaut(), data.coffee(), data.rocket(), *load_sample_images().images]
    return [Image.fromarray(np.asarray(array)) for array in arrays]


@pytest.fixture(scope="session")
def chelsea() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.chelsea())


@pytest.fixture(scope="session")
def lite_visual() -> Encoder:
    return load_encoder(get_spec("efficientnet-lite0"), select_runtime("cpu", "fp32"))


@pytest.fixture(scope="session")
def lite_semantic() -> Encoder:
    return load_encoder(get_spec("conse-minilm"), select_runtime("cpu", "fp32"))


@pytest.fixture
def encoder_options() -> Iterator[Callable[..., EncoderOptions]]:
    """Set this process's EncoderOptions for one test (fields as keywords, the rest defaults); restored after."""
    saved = options.current()

    def use(**fields: Any) -> EncoderOptions:
        chosen = EncoderOptions(**fields)
        options.configure(chosen)
        return chosen

    yield use
    options.configure(saved)


@pytest.fixture
def model_dir(tmp_path: Path, encoder_options: Callable[..., EncoderOptions]) -> Path:
    encoder_options(model_dir=tmp_path, hub_offline=True)
    return tmp_path
