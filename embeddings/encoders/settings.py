"""Environment knobs of the encoders, read on use (no Django: workers and scripts share them).

A bad value raises ValueError at once rather than quietly running on another device.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

DeviceChoice = Literal["auto", "cpu", "cuda", "mps"]
DtypeChoice = Literal["auto", "bf16", "fp32"]

_DEVICES: tuple[DeviceChoice, ...] = ("auto", "cpu", "cuda", "mps")
_DTYPES: tuple[DtypeChoice, ...] = ("auto", "bf16", "fp32")


def _choice(var: str, default: str, allowed: tuple[str, ...]) -> str:
    value = os.environ.get(var, "").strip().lower() or default
    if value not in allowed:
        raise ValueError(f"{var}={value!r} is not one of {', '.join(allowed)}")
    return value


def model_dir() -> Path | None:
    """EMBEDDINGS_MODEL_DIR: a directory holding weights as <hub id>/ or <encoder name>/."""
    value = os.environ.get("EMBEDDINGS_MODEL_DIR", "").strip()
    return Path(value).expanduser() if value else None


def device() -> DeviceChoice:
    """EMBEDDINGS_DEVICE: auto (CUDA > MPS > CPU), cpu, cuda or mps."""
    return _choice("EMBEDDINGS_DEVICE", "auto", _DEVICES)  # type: ignore[return-value]


def cpu_dtype() -> DtypeChoice:
    """EMBEDDINGS_CPU_DTYPE: auto (bf16 only where the CPU has AMX), bf16 or fp32."""
    return _choice("EMBEDDINGS_CPU_DTYPE", "auto", _DTYPES)  # type: ignore[return-value]


def _positive_int(var: str, default: int) -> int:
    raw = os.environ.get(var, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{var}={raw!r} is not an integer") from None
    if value < 1:
        raise ValueError(f"{var}={value} must be at least 1")
    return value


def batch_size(default: int) -> int:
    """EMBEDDINGS_BATCH_SIZE: images per forward pass (default depends on the device)."""
    return _positive_int("EMBEDDINGS_BATCH_SIZE", default)


def decode_workers() -> int:
    """EMBEDDINGS_DECODE_WORKERS: threads decoding and resizing images beside inference."""
    return _positive_int("EMBEDDINGS_DECODE_WORKERS", min(8, os.cpu_count() or 1))
