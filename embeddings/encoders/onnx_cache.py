"""Exported ONNX graphs on disk: one per encoder identity and export recipe, checked, shared by every process.

The first process to need a graph exports it (seconds for EfficientNet, longer
for a ViT); later ones load the file. Races and damage are handled in the open:

- a file lock per graph: two workers starting at once export it once; the
  second waits, then loads what the first wrote;
- the graph is written to a temporary file and renamed into place, and its
  SHA-256 is kept beside it: a truncated or corrupted file (a full disk, a
  killed export) fails the check and is exported again;
- the key holds the encoder identity (weights digest), EXPORT_FORMAT and the
  torch and onnx versions: a graph made from other weights or by another
  exporter is never reused.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# Bump when the export recipe changes (opset, wrapper modules, graph inputs): older graphs are then not used.
EXPORT_FORMAT = 1
_CHUNK = 1 << 20


class OnnxUnavailable(RuntimeError):
    """The graph could not be exported or loaded; the message says why (the caller falls back to torch)."""


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def graph_path(cache_dir: Path, key: str) -> Path:
    import onnx
    import torch

    recipe = f"{key}|format {EXPORT_FORMAT}|torch {torch.__version__}|onnx {onnx.__version__}"
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "-", key)[:60]
    return cache_dir / f"{readable}-{hashlib.sha256(recipe.encode()).hexdigest()[:16]}.onnx"


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    with lock_path.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _intact(graph: Path) -> bool:
    checksum = graph.with_suffix(".sha256")
    try:
        return graph.is_file() and checksum.read_text().strip() == _digest(graph)
    except OSError:
        return False


def _write_atomically(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.replace(temporary, path)


def cached_graph(*, cache_dir: Path, key: str, export: Callable[[Path], None]) -> Path:
    """The intact graph for `key`, exported with `export(path)` first when missing or damaged."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    graph = graph_path(cache_dir, key)
    # One exporter per graph across processes; readers take the same lock, so none sees a half-written file.
    with _exclusive(graph.with_suffix(".lock")):
        if _intact(graph):
            return graph
        if graph.exists():
            logger.warning("cached ONNX graph %s failed its checksum: exporting it again", graph.name)
        handle, temporary = tempfile.mkstemp(dir=cache_dir, suffix=".onnx.tmp")
        os.close(handle)
        try:
            export(Path(temporary))
            digest = _digest(Path(temporary))
            os.replace(temporary, graph)
        except Exception as exc:
            Path(temporary).unlink(missing_ok=True)
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise OnnxUnavailable(f"export failed: {type(exc).__name__}: {first[:300]}") from exc
        _write_atomically(graph.with_suffix(".sha256"), digest.encode())
        logger.info("exported ONNX graph %s", graph.name)
        return graph


def session(graph: Path, *, threads: int) -> Any:
    """An ONNX Runtime CPU session on `graph` using `threads` intra-op threads, none spinning while idle."""
    import onnxruntime as ort

    settings = ort.SessionOptions()
    settings.intra_op_num_threads = threads
    settings.inter_op_num_threads = 1
    settings.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    settings.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle threads that spin steal the core the decode threads need between two batches.
    settings.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(graph), settings, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for a bad graph
        raise OnnxUnavailable(f"ONNX Runtime cannot load {graph.name}: {exc}") from exc
