"""Encoder throughput from JPEG bytes to normalised vectors: the one-image-at-a-time loop vs the production path.

Baseline: one image at a time, fp32, full-size decode, no worker threads, torch, the model
as its package ships it (for EfficientNet: BatchNorm and pads unfused), and for the lite pair
one forward per space: the loop a first implementation writes. Production: what the worker
runs (embeddings.encoders.joint.encode_images_together): draft decoding on a thread pool
overlapped with the forward pass, batching, the shared lite backbone, on each backend asked
for (ONNX Runtime, torch). Everything runs in one process on the same weights.

DINOv2 and SigLIP use their real architectures with random weights (speed does not
depend on the values) unless --real-weights finds the real ones on disk.

CPU:          python -m bench.encode --device cpu --n 192 --baseline-n 32
CPU, ViTs:    python -m bench.encode --device cpu --models dinov2-small,dinov2-base,siglip-base-patch16-224 --n 32
H100 (pair):  python -m bench.encode --device cuda --n 20000 --models dinov2-base,siglip-base-patch16-224 --pair
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from bench.photo_corpus import upload_like_jpegs
from bench.random_checkpoints import register_random
from embeddings.encoders import EncoderOptions, configure, options, weights_available
from embeddings.encoders.backends import TorchTower
from embeddings.encoders.base import Encoder, ImageEncoder, l2_rows
from embeddings.encoders.cores import available_cores, thread_budget
from embeddings.encoders.families import efficientnet_lite
from embeddings.encoders.families.conse import ConseEncoder
from embeddings.encoders.joint import encode_images_together
from embeddings.encoders.loader import load_encoder
from embeddings.encoders.registry import EncoderSpec, get_spec
from embeddings.encoders.runtime import Runtime, select_runtime

DEFAULT_MODELS = "efficientnet-lite0,conse-minilm"
LITE_PAIR = ("efficientnet-lite0", "conse-minilm")


@dataclass
class Result:
    model: str
    weights: str
    device: str
    backend: str
    batch_size: int
    n: int
    baseline_n: int
    baseline_img_s: float | None
    optimised_img_s: float
    speedup: float | None
    min_cosine_vs_baseline: float | None


def spec_for(name: str, real_weights: bool) -> tuple[EncoderSpec, str]:
    spec = get_spec(name)
    if spec.family in ("dinov2", "siglip") and not (real_weights and weights_available(name)):
        return register_random(name), "random"
    return spec, "real"


def load_on(spec: EncoderSpec, runtime: Runtime, backend: str) -> ImageEncoder:
    configure(replace(options.current(), backend=backend))  # type: ignore[arg-type]
    encoder = load_encoder(spec, runtime)
    assert isinstance(encoder, ImageEncoder)
    return encoder


def compile_tower(encoder: ImageEncoder) -> None:
    """torch.compile the tower's module (bench flag; the first batches pay the compile)."""
    if isinstance(encoder.tower, TorchTower):
        encoder.tower.module = torch.compile(encoder.tower.module)  # type: ignore[assignment]


def baseline_vectors(encoder: ImageEncoder, blobs: Sequence[bytes]) -> np.ndarray:
    """The first implementation's loop: full-size decode, batch of one, fp32 torch, one forward per space."""
    if isinstance(encoder, ConseEncoder) or encoder.name == "efficientnet-lite0":
        stock = efficientnet_lite.load_stock_network(efficientnet_lite.weights_file(encoder.spec)).to(
            encoder.runtime.device
        )
        normalise = efficientnet_lite.FeatureTower(stock, encoder.preprocess).normalise

        def forward(pixels: torch.Tensor) -> np.ndarray:
            features = stock.extract_features(normalise(pixels)).mean(dim=(2, 3))
            if not isinstance(encoder, ConseEncoder):
                return features.numpy()
            return encoder.head(features.numpy())

    else:
        module = TorchTower(getattr(encoder.tower, "module", None) or _torch_module(encoder), encoder.runtime).module

        def forward(pixels: torch.Tensor) -> np.ndarray:
            return module(pixels).float().numpy()

    rows = []
    # The first implementation runs torch with its default threads (every core), not the worker's budget.
    budget = torch.get_num_threads()
    torch.set_num_threads(available_cores())
    with torch.inference_mode():
        for blob in blobs:
            image = ImageOps.exif_transpose(Image.open(io.BytesIO(blob))).convert("RGB")
            rows.append(forward(torch.from_numpy(encoder.preprocess.pixels(image)[None].copy())))
    torch.set_num_threads(budget)
    return l2_rows(np.concatenate(rows))


def _torch_module(encoder: ImageEncoder) -> torch.nn.Module:
    torch_twin = load_on(encoder.spec, encoder.runtime, "torch")
    return torch_twin.tower.module  # type: ignore[attr-defined]


def best_of(repeats: int, function: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """Fastest of ``repeats`` runs: the minimum is the least disturbed."""
    value, best = None, float("inf")
    for _ in range(repeats):
        value, seconds = timed(function, *args, **kwargs)
        best = min(best, seconds)
    return value, best


def timed(function: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    value = function(*args, **kwargs)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return value, time.perf_counter() - start


def bench_encoders(
    args: argparse.Namespace, names: Sequence[str], runtime: Runtime, backend: str, blobs: list[bytes]
) -> Result:
    """`names` encoded together, as the worker encodes its spaces (one name: that encoder alone)."""
    loaded = [spec_for(name, args.real_weights) for name in names]
    encoders: list[Encoder] = [load_on(spec, runtime, backend) for spec, _ in loaded]
    for encoder in encoders:
        if args.compile:
            compile_tower(encoder)  # type: ignore[arg-type]
    encode_images_together(encoders, blobs[: args.warmup])  # allocator, kernels, compile
    optimised, seconds = best_of(args.repeats, encode_images_together, encoders, blobs[: args.n])
    result = Result(
        "+".join(names),
        ",".join(sorted({weights for _, weights in loaded})),
        runtime.label,
        backend,
        args.batch_size,
        args.n,
        0,
        None,
        args.n / seconds,
        None,
        None,
    )
    if args.baseline_n > 0:
        sample = blobs[: args.baseline_n]

        def baseline() -> list[np.ndarray]:
            return [baseline_vectors(encoder, sample) for encoder in encoders]  # type: ignore[arg-type]

        baseline()  # warm
        reference, base_seconds = best_of(args.repeats, baseline)
        result.baseline_n = args.baseline_n
        result.baseline_img_s = args.baseline_n / base_seconds
        result.speedup = result.optimised_img_s / result.baseline_img_s
        result.min_cosine_vs_baseline = float(
            min(
                np.sum(ref * opt[: args.baseline_n], axis=1).min()
                for ref, opt in zip(reference, optimised, strict=True)
            )
        )
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--cpu-dtype", default="fp32", help="comma list of fp32,bf16 (CPU only; one run each)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: 16 on CPU, 256 on CUDA")
    parser.add_argument("--n", type=int, default=64, help="images through the optimised path")
    parser.add_argument("--baseline-n", type=int, default=None, help="images through the baseline loop (0: skip)")
    parser.add_argument("--models", default=DEFAULT_MODELS)
    parser.add_argument("--workers", type=int, default=None, help="decode threads (default: the worker's budget)")
    parser.add_argument("--backends", default="onnx,torch", help="comma list of onnx,torch (CPU fp32 only for onnx)")
    parser.add_argument("--pair", action="store_true", help="also time all --models together (both spaces)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the per-batch modules")
    parser.add_argument("--real-weights", action="store_true", help="use real weights where found locally")
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=os.environ.get("EMBEDDINGS_MODEL_DIR") or None,
        help="real weights as <hub id>/ or <encoder name>/ (default: $EMBEDDINGS_MODEL_DIR, as the worker reads it)",
    )
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per path; the fastest counts")
    parser.add_argument("--warmup", type=int, default=None, help="images through each path first (default: 1 batch)")
    parser.add_argument("--threads", type=int, default=None, help="compute threads (default: the worker's budget)")
    parser.add_argument("--json", type=Path, default=None, help="write results here")
    args = parser.parse_args(argv)
    base_runtime = select_runtime(args.device, "fp32")
    on_gpu = base_runtime.device.type != "cpu"
    args.batch_size = args.batch_size or (256 if on_gpu else 16)
    configure(
        EncoderOptions(
            decode_workers=args.workers,
            compute_threads=args.threads,
            forward_batch_size=args.batch_size,
            model_dir=args.model_dir.expanduser() if args.model_dir else None,
            # The worker's cache: graphs exported once are reused by later runs, as in production.
            onnx_cache_dir=Path("var/onnx").resolve(),
        )
    )
    args.warmup = args.warmup if args.warmup is not None else args.batch_size
    if args.baseline_n is None:
        args.baseline_n = 200 if on_gpu else min(16, args.n)
    runtimes = [base_runtime] if on_gpu else [select_runtime("cpu", d) for d in args.cpu_dtype.split(",")]
    blobs = upload_like_jpegs(max(args.n, args.baseline_n, args.batch_size))
    names = [name.strip() for name in args.models.split(",") if name.strip()]

    results: list[Result] = []
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for runtime in runtimes:
        cpu_fp32 = runtime.device.type == "cpu" and runtime.autocast_dtype is None
        for backend in [b for b in backends if b == "torch" or cpu_fp32]:
            groups: list[tuple[str, ...]] = [(name,) for name in names]
            if args.pair or set(LITE_PAIR) <= set(names):
                # The worker's unit of work: every space of a photo (the lite pair shares one pass).
                groups.append(tuple(names) if args.pair else LITE_PAIR)
            for group in groups:
                # The baseline is fp32 torch by definition: measured with the first backend and runtime only.
                first = runtime is runtimes[0] and backend == backends[0]
                run_args = argparse.Namespace(**{**vars(args), "baseline_n": args.baseline_n if first else 0})
                results.append(bench_encoders(run_args, group, runtime, backend, blobs))
                print(json.dumps(asdict(results[-1])), flush=True)

    machine = torch.cuda.get_device_name() if on_gpu and torch.cuda.is_available() else platform.processor() or "cpu"
    budget = thread_budget()
    print(f"\n{machine}, torch {torch.__version__}, {budget.compute} compute threads, {budget.decode} decode threads")
    print("| model | weights | device | backend | batch | baseline img/s | production img/s | speed-up | min cos |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        base = f"{r.baseline_img_s:.1f}" if r.baseline_img_s else "-"
        gain = f"{r.speedup:.1f}x" if r.speedup else "-"
        cos = f"{r.min_cosine_vs_baseline:.4f}" if r.min_cosine_vs_baseline is not None else "-"
        cells = [
            r.model,
            r.weights,
            r.device,
            r.backend,
            str(r.batch_size),
            base,
            f"{r.optimised_img_s:.1f}",
            gain,
            cos,
        ]
        print("| " + " | ".join(cells) + " |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))


if __name__ == "__main__":
    main()
