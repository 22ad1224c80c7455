"""How encoders run in this process: one options object set by the host, never read from the environment here.

The Django side builds it from config/settings.py (embeddings/apps.py); a
benchmark or a script builds its own. `configure` must come before the first
model loads: a loaded model keeps the runtime it was built with.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

DeviceChoice = Literal["auto", "cpu", "cuda", "mps"]
DtypeChoice = Literal["auto", "bf16", "fp32"]
BackendChoice = Literal["auto", "torch", "onnx"]


@dataclass(frozen=True)
class EncoderOptions:
    # auto: CUDA > MPS > CPU.
    device: DeviceChoice = "auto"
    # auto: bf16 only where the CPU has AMX (elsewhere bf16 is emulated and slower than fp32).
    cpu_dtype: DtypeChoice = "auto"
    # Images per forward pass; None: 256 on CUDA, 16 elsewhere (gains flatten past 16 on a 2-core CPU).
    forward_batch_size: int | None = None
    # Threads decoding and resizing beside the forward pass; None: min(8, cores).
    decode_workers: int | None = None
    # A directory holding weights as <hub id>/ or <encoder name>/.
    model_dir: Path | None = None
    # No hub downloads (huggingface_hub reads HF_HUB_OFFLINE itself; this decides our message).
    hub_offline: bool = False
    # Who runs the forward pass: auto is ONNX Runtime for fp32 on the CPU, torch everywhere else.
    backend: BackendChoice = "auto"
    # Where exported ONNX graphs are kept (one per encoder identity); None: no cache, torch only.
    onnx_cache_dir: Path | None = None
    # Threads of one forward pass; None: the cores this process may use, less the decode threads.
    compute_threads: int | None = None

    def __post_init__(self) -> None:
        if self.device not in get_args(DeviceChoice):
            raise ValueError(f"device must be one of {', '.join(get_args(DeviceChoice))}, got {self.device!r}")
        if self.cpu_dtype not in get_args(DtypeChoice):
            raise ValueError(f"cpu_dtype must be one of {', '.join(get_args(DtypeChoice))}, got {self.cpu_dtype!r}")
        if self.backend not in get_args(BackendChoice):
            raise ValueError(f"backend must be one of {', '.join(get_args(BackendChoice))}, got {self.backend!r}")
        for name in ("forward_batch_size", "decode_workers", "compute_threads"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")


_current = EncoderOptions()


def configure(options: EncoderOptions) -> None:
    """Set this process's options (the host calls it once, before any model loads)."""
    global _current
    _current = options


def current() -> EncoderOptions:
    return _current
