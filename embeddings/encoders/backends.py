"""Who runs a model's forward pass: torch (CUDA, MPS, bf16 CPUs, and the fallback) or ONNX Runtime (fp32 CPU).

Every family builds its forward pass as one torch module ("a tower": uint8
pixels or token ids in, features out, normalisation inside), and this module
decides where it runs. On a CPU in fp32 the tower is exported to ONNX once
(onnx_cache) and run by ONNX Runtime, which ran EfficientNet-Lite0 2.5-2.7x
faster than torch on this project's CPUs; everywhere else torch runs it. Both
run the same module, so their vectors agree (tested per family); the encoder's
identity does not depend on the backend and no catalogue is re-embedded when
it changes. An export that fails falls back to torch with one warning line.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from embeddings.encoders import onnx_cache, options
from embeddings.encoders.cores import thread_budget
from embeddings.encoders.runtime import Runtime

logger = logging.getLogger(__name__)

OPSET = 18


class Tower(Protocol):
    backend: str  # "torch" or "onnx"

    def __call__(self, *inputs: np.ndarray) -> list[np.ndarray]:
        """Numpy inputs (uint8 NHWC pixels, int64 token ids) -> float32 numpy outputs, in the module's order."""


class TorchTower:
    backend = "torch"

    def __init__(self, module: torch.nn.Module, runtime: Runtime) -> None:
        self.module = module.eval()
        self.runtime = runtime

    def _autocast(self) -> contextlib.AbstractContextManager[object]:
        dtype = self.runtime.autocast_dtype
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.runtime.device.type, dtype=dtype)

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        tensor = torch.from_numpy(np.ascontiguousarray(array))
        if self.runtime.device.type == "cuda":
            # uint8 crosses PCIe (4x less than float32); pinned memory lets the copy overlap compute.
            return tensor.pin_memory().to(self.runtime.device, non_blocking=True)
        return tensor.to(self.runtime.device)

    def __call__(self, *inputs: np.ndarray) -> list[np.ndarray]:
        with torch.inference_mode(), self._autocast():
            outputs = self.module(*(self._tensor(array) for array in inputs))
        if isinstance(outputs, torch.Tensor):
            outputs = (outputs,)
        return [output.float().cpu().numpy() for output in outputs]


class OnnxTower:
    backend = "onnx"

    def __init__(self, session: Any, input_names: Sequence[str], output_names: Sequence[str]) -> None:
        self.session = session
        self.input_names = list(input_names)
        self.output_names = list(output_names)

    def __call__(self, *inputs: np.ndarray) -> list[np.ndarray]:
        feeds = {name: np.ascontiguousarray(array) for name, array in zip(self.input_names, inputs, strict=True)}
        return [np.asarray(output, dtype=np.float32) for output in self.session.run(self.output_names, feeds)]


def resolve_backend(runtime: Runtime) -> str:
    """'onnx' or 'torch' for this runtime, from the options (auto: ONNX Runtime for fp32 on the CPU)."""
    chosen = options.current().backend
    cpu_fp32 = runtime.device.type == "cpu" and runtime.autocast_dtype is None
    if chosen == "onnx" and not cpu_fp32:
        raise ValueError(f"backend 'onnx' runs fp32 on the CPU; this process runs on {runtime.label}")
    if chosen == "auto":
        return "onnx" if cpu_fp32 else "torch"
    return chosen


def _cache_dir() -> Path:
    configured = options.current().onnx_cache_dir
    return configured if configured is not None else Path(tempfile.gettempdir()) / "lookalike-onnx"


def build_tower(
    module: torch.nn.Module,
    *,
    name: str,
    key: str,
    runtime: Runtime,
    examples: tuple[torch.Tensor, ...],
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: dict[str, dict[int, str]],
) -> Tower:
    """The module as a Tower on the chosen backend. `key` names what the module computes, weights included
    (an encoder identity and the tower's part): the exported graph is cached under it."""
    if runtime.device.type == "cpu":
        torch.set_num_threads(thread_budget().compute)
    if resolve_backend(runtime) == "onnx":

        def export(path: Path) -> None:
            # no_grad, not inference_mode: the exporter traces, and inference tensors cannot be traced.
            with torch.no_grad():
                torch.onnx.export(
                    module.eval(),
                    examples,
                    str(path),
                    input_names=list(input_names),
                    output_names=list(output_names),
                    dynamic_axes=dynamic_axes,
                    opset_version=OPSET,
                    dynamo=False,
                )

        try:
            graph = onnx_cache.cached_graph(cache_dir=_cache_dir(), key=key, export=export)
            session = onnx_cache.session(graph, threads=thread_budget().compute)
            return OnnxTower(session, input_names, output_names)
        except onnx_cache.OnnxUnavailable as exc:
            logger.warning("%s runs on torch: ONNX Runtime unavailable (%s)", name, exc)
    return TorchTower(module, runtime)
