"""Where and in which precision a model runs, chosen once per process from the encoder options."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from embeddings.encoders import options


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    # None means plain fp32; otherwise matmuls run under autocast in this dtype.
    autocast_dtype: torch.dtype | None

    @property
    def label(self) -> str:
        precision = "fp32" if self.autocast_dtype is None else str(self.autocast_dtype).removeprefix("torch.")
        return f"{self.device.type}/{precision}"


def cpu_has_fast_bf16() -> bool:
    """True where bf16 matmuls beat fp32 on this CPU: AMX tiles (Sapphire Rapids and later).

    AVX512-BF16 alone halves memory traffic but barely speeds up the matmuls, and on
    AVX2-only CPUs bf16 is emulated and several times slower than fp32.
    """
    is_amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool(is_amx()) if is_amx is not None else False


def select_runtime(device: str | None = None, cpu_dtype: str | None = None) -> Runtime:
    choice = device or options.current().device
    if choice == "auto":
        if torch.cuda.is_available():
            choice = "cuda"
        elif torch.backends.mps.is_available():
            choice = "mps"
        else:
            choice = "cpu"
    if choice == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("EMBEDDINGS_DEVICE=cuda but torch sees no CUDA device")
        # bf16 keeps fp32's range (no overflow in attention logits); fp16 only on pre-Ampere cards.
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return Runtime(torch.device("cuda"), dtype)
    if choice == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError("EMBEDDINGS_DEVICE=mps but torch sees no MPS device")
        return Runtime(torch.device("mps"), torch.float16)
    if choice != "cpu":
        raise ValueError(f"unknown device {choice!r}")
    precision = cpu_dtype or options.current().cpu_dtype
    use_bf16 = precision == "bf16" or (precision == "auto" and cpu_has_fast_bf16())
    return Runtime(torch.device("cpu"), torch.bfloat16 if use_bf16 else None)
