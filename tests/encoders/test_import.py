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
