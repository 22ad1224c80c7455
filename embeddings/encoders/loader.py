"""One loaded model per encoder name per process, built by its family's ``load``."""

from __future__ import annotations

import importlib
import threading
from typing import Protocol, cast

from embeddings.encoders.base import Encoder
from embeddings.encoders.registry import EncoderSpec, get_spec
from embeddings.encoders.runtime import Runtime, select_runtime

_FAMILY_MODULES = {
    "dinov2": "embeddings.encoders.families.dinov2",
    "siglip": "embeddings.encoders.families.siglip",
    "clip": "embeddings.encoders.families.clip",
    "efficientnet_lite": "embeddings.encoders.families.efficientnet_lite",
    "conse": "embeddings.encoders.families.conse",
}


class _Family(Protocol):
    def load(self, spec: EncoderSpec, runtime: Runtime) -> Encoder: ...


_guard = threading.Lock()
_name_locks: dict[str, threading.Lock] = {}
_loaded: dict[str, tuple[EncoderSpec, Encoder]] = {}


def load_encoder(spec: EncoderSpec, runtime: Runtime | None = None) -> Encoder:
    """Build a fresh encoder (no caching): for tests and benchmarks that pin a runtime."""
    family = cast(_Family, importlib.import_module(_FAMILY_MODULES[spec.family]))
    return family.load(spec, runtime or select_runtime())


def get_encoder(name: str) -> Encoder:
    """The process-wide encoder for ``name``, loaded on first use.

    Celery prefork workers each load their own copy after the fork, which is what we
    want: a model loaded before fork would share memory pages but not its thread pool.
    """
    spec = get_spec(name)
    cached = _loaded.get(name)
    if cached is not None and cached[0] == spec:
        return cached[1]
    with _guard:
        lock = _name_locks.setdefault(name, threading.Lock())
    # Per-name lock: two threads asking for the same model load it once; other names don't wait.
    with lock:
        cached = _loaded.get(name)
        if cached is not None and cached[0] == spec:
            return cached[1]
        encoder = load_encoder(spec)
        _loaded[name] = (spec, encoder)
        return encoder


def clear_cache() -> None:
    """Forget loaded encoders (tests switching EMBEDDINGS_* variables use it)."""
    with _guard:
        _loaded.clear()
