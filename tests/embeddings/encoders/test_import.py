"""The package is cheap to import: no Django, no torch until a model is asked for."""

from __future__ import annotations

import subprocess
import sys


def test_import_pulls_in_neither_django_nor_torch() -> None:
    code = (
        "import sys, embeddings.encoders as e; "
        "e.PROFILES; e.decode_image; e.weights_available('efficientnet-lite0'); "
        "print(sorted(m for m in ('django', 'torch', 'transformers') if m in sys.modules))"
    )
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "[]"


def test_the_encoders_read_no_environment() -> None:
    """A bad EMBEDDINGS_DEVICE is settings' business (config/settings.py rejects it); the package never reads it."""
    code = "import embeddings.encoders.options as o, embeddings.encoders.runtime; print(o.current().device)"
    env = {"PATH": "/usr/bin:/bin", "EMBEDDINGS_DEVICE": "gpu", "EMBEDDINGS_MODEL_DIR": "/nowhere"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "auto"
