"""Encoder throughput from JPEG bytes to normalised vectors: baseline loop vs the batched path.

Baseline: one image at a time, fp32, full-size decode, no worker threads: the loop a first
implementation writes. Optimised: ``Encoder.encode_images`` (draft decoding, thread-pool
preprocessing overlapped with inference, batching, and bf16 where asked). Both run on the
same model object in the same process, so the ratio isolates the pipeline.

DINOv2-B/14 and SigLIP-B/16 use their real architectures with random weights (speed does not
depend on the values) unless --real-weights finds the real ones on disk.

CPU (short):   python -m bench.encode --device cpu --n 64 --baseline-n 16
H100 (pair):   python -m bench.encode --device cuda --n 20000 --models dinov2-base,siglip-base-patch16-224 --pair
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from bench.photo_corpus import upload_like_jpegs
from bench.random_checkpoints import register_random
from embeddings.encoders import EncoderOptions, configure, decode_image, weights_available
from embeddings.encoders.base import TorchImageEncoder, l2_normalise
from embeddings.encoders.families import efficientnet_lite
from embeddings.encoders.families.conse import ConseEncoder
from embeddings.encoders.families.efficientnet_lite import EfficientNetLiteEncoder
from embeddings.encoders.loader import load_encoder
from embeddings.encoders.registry import EncoderSpec, get_spec
from embeddings.encoders.runtime import Runtime, select_runtime

DEFAULT_MODELS = "efficientnet-lite0,conse-minilm,dinov2-base,siglip-base-patch16-224"


@dataclass
class Result:
    model: str
    weights: str
    device: str
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


def compile_encoder(encoder: TorchImageEncoder) -> None:
    """torch.compile the module each family runs per batch (bench flag; first batches pay the compile)."""
    target: Any = encoder
    if hasattr(target, "model") and hasattr(target.model, "vision_model"):
        target.model.vision_model = torch.compile(target.model.vision_model)
    elif hasattr(target, "model"):
        target.model = torch.compile(target.model)
    elif hasattr(target, "network"):
        target.network.extract_features = torch.compile(target.network.extract_features)


def baseline_forward(encoder: TorchImageEncoder) -> Any:
    """Batch-of-one forward on the model as its package ships it (for EfficientNet: BN and pads unfused)."""
    if isinstance(encoder, EfficientNetLiteEncoder | ConseEncoder):
        stock = efficientnet_lite.load_stock_network(efficientnet_lite.weights_file(encoder.spec)).to(
            encoder.runtime.device
        )

        def forward(pixels: torch.Tensor) -> torch.Tensor:
            features = stock.extract_features(pixels).mean(dim=(2, 3))
            if isinstance(encoder, EfficientNetLiteEncoder):
                return features
            top, classes = stock._fc(features).softmax(dim=-1).topk(encoder.top_k, dim=-1)
            return (top.unsqueeze(-1) * encoder.class_vectors[classes]).sum(dim=1)

        return forward
    return encoder._forward


def baseline_vectors(encoder: TorchImageEncoder, forward: Any, blobs: Sequence[bytes]) -> np.ndarray:
    """The loop a first implementation writes: full-size decode, one image per forward, fp32."""
    rows = []
    with torch.inference_mode():
        for blob in blobs:
            image = ImageOps.exif_transpose(Image.open(io.BytesIO(blob))).convert("RGB")
            pixels = encoder._to_tensor([encoder.preprocess.pixels(image)])
            rows.append(l2_normalise(forward(pixels)))
    return np.concatenate(rows)


def best_of(repeats: int, function: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """Fastest of ``repeats`` runs: the machine is shared, and the minimum is the least disturbed."""
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


def bench_one(args: argparse.Namespace, name: str, runtime: Runtime, blobs: list[bytes]) -> Result:
    spec, weights = spec_for(name, args.real_weights)
    encoder = load_encoder(spec, runtime)
    assert isinstance(encoder, TorchImageEncoder)
    if args.compile:
        compile_encoder(encoder)
    encoder.encode_images(blobs[: args.warmup], batch_size=args.batch_size)  # allocator, kernels, compile
    optimised, seconds = best_of(args.repeats, encoder.encode_images, blobs[: args.n], batch_size=args.batch_size)
    result = Result(name, weights, runtime.label, args.batch_size, args.n, 0, None, args.n / seconds, None, None)
    if args.baseline_n > 0:
        fp32 = encoder if runtime.autocast_dtype is None else load_encoder(spec, Runtime(runtime.device, None))
        assert isinstance(fp32, TorchImageEncoder)
        forward = baseline_forward(fp32)
        baseline_vectors(fp32, forward, blobs[:1])
        baseline, base_seconds = best_of(args.repeats, baseline_vectors, fp32, forward, blobs[: args.baseline_n])
        result.baseline_n = args.baseline_n
        result.baseline_img_s = args.baseline_n / base_seconds
        result.speedup = result.optimised_img_s / result.baseline_img_s
        result.min_cosine_vs_baseline = float(np.sum(baseline * optimised[: args.baseline_n], axis=1).min())
    return result


def bench_pair(args: argparse.Namespace, names: list[str], runtime: Runtime, blobs: list[bytes]) -> Result:
    """Both spaces for every image: decode once (thread pool), feed both encoders chunk by chunk."""
    encoders = []
    for name in names:
        encoder = load_encoder(spec_for(name, args.real_weights)[0], runtime)
        assert isinstance(encoder, TorchImageEncoder)
        if args.compile:
            compile_encoder(encoder)
        encoder.encode_images(blobs[: args.warmup], batch_size=args.batch_size)
        encoders.append(encoder)
    decode_size = max(encoder.preprocess.decode_size for encoder in encoders)
    chunk = args.batch_size * 4
    decoded: queue.Queue[list[Image.Image] | None] = queue.Queue(maxsize=2)

    def produce() -> None:
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            for start in range(0, len(blobs), chunk):
                part = blobs[start : start + chunk]
                decoded.put(list(pool.map(lambda blob: decode_image(blob, min_size=decode_size), part)))
        decoded.put(None)

    def consume() -> int:
        done = 0
        producer = threading.Thread(target=produce, daemon=True)
        producer.start()
        while (images := decoded.get()) is not None:
            for encoder in encoders:
                encoder.encode_images(images, batch_size=args.batch_size)
            done += len(images)
        return done

    done, seconds = timed(consume)
    return Result("+".join(names), "random", runtime.label, args.batch_size, done, 0, None, done / seconds, None, None)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--cpu-dtype", default="fp32", help="comma list of fp32,bf16 (CPU only; one run each)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: 16 on CPU, 256 on CUDA")
    parser.add_argument("--n", type=int, default=64, help="images through the optimised path")
    parser.add_argument("--baseline-n", type=int, default=None, help="images through the baseline loop (0: skip)")
    parser.add_argument("--models", default=DEFAULT_MODELS)
    parser.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1), help="decode threads")
    parser.add_argument("--pair", action="store_true", help="also time dinov2+siglip on the same images")
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
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--json", type=Path, default=None, help="write results here")
    args = parser.parse_args(argv)
    configure(
        EncoderOptions(decode_workers=args.workers, model_dir=args.model_dir.expanduser() if args.model_dir else None)
    )
    if args.threads:
        torch.set_num_threads(args.threads)

    base_runtime = select_runtime(args.device, "fp32")
    on_gpu = base_runtime.device.type != "cpu"
    args.batch_size = args.batch_size or (256 if on_gpu else 16)
    args.warmup = args.warmup if args.warmup is not None else args.batch_size
    if args.baseline_n is None:
        args.baseline_n = 200 if on_gpu else min(16, args.n)
    runtimes = [base_runtime] if on_gpu else [select_runtime("cpu", d) for d in args.cpu_dtype.split(",")]
    blobs = upload_like_jpegs(max(args.n, args.baseline_n, args.batch_size))
    names = [name.strip() for name in args.models.split(",") if name.strip()]

    results: list[Result] = []
    for runtime in runtimes:
        for name in names:
            # The baseline is fp32 by definition: measure it once, with the first runtime.
            args_for_run = argparse.Namespace(
                **{**vars(args), "baseline_n": args.baseline_n if runtime is runtimes[0] else 0}
            )
            results.append(bench_one(args_for_run, name, runtime, blobs))
            print(json.dumps(asdict(results[-1])), flush=True)
    if args.pair:
        results.append(bench_pair(args, names, runtimes[0], blobs[: args.n]))
        print(json.dumps(asdict(results[-1])), flush=True)

    machine = torch.cuda.get_device_name() if on_gpu and torch.cuda.is_available() else platform.processor() or "cpu"
    print(f"\n{machine}, torch {torch.__version__}, {torch.get_num_threads()} threads, {args.workers} decode workers")
    print("| model | weights | device | batch | baseline img/s | optimised img/s | speed-up | min cos |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        base = f"{r.baseline_img_s:.1f}" if r.baseline_img_s else "-"
        gain = f"{r.speedup:.1f}x" if r.speedup else "-"
        cos = f"{r.min_cosine_vs_baseline:.4f}" if r.min_cosine_vs_baseline is not None else "-"
        cells = [r.model, r.weights, r.device, str(r.batch_size), base, f"{r.optimised_img_s:.1f}", gain, cos]
        print("| " + " | ".join(cells) + " |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))


if __name__ == "__main__":
    main()
