from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _private_media(media_root: Path) -> Path:
    """Files go under the session's own MEDIA_ROOT, which the worker child reads too."""
    return media_root


@pytest.fixture(scope="session")
def _tiny_models(tmp_path_factory: pytest.TempPathFactory) -> None:
    from embeddings.encoders.testing import build_tiny_models

    build_tiny_models(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def tiny_encoders(_tiny_models: None, settings: Any) -> None:
    """In-process tests embed with tiny random-weight models (the worker tests use the lite profile)."""
    settings.EMBEDDINGS_VISUAL_ENCODER = "tiny-dinov2"
    settings.EMBEDDINGS_SEMANTIC_ENCODER = "tiny-siglip"
