"""ONNX Runtime and torch give the same vectors; the shared lite backbone gives the vectors of two passes;
the exported-graph cache survives a concurrent start, damage and a failed export."""

from __future__ import annotations

import logging
import multiprocessing
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from embeddings.encoders import EncoderOptions, onnx_cache
from embeddings.encoders.base import Encoder, ImageEncoder
from embeddings.encoders.families import efficientnet_lite
from embeddings.encoders.families.conse import ConseEncoder
from embeddings.encoders.joint import encode_images_together
from embeddings.encoders.loader import load_encoder
from embeddings.encoders.registry import EncoderSpec, get_spec
from embeddings.encoders.runtime import select_runtime

TEXTS = ["a red floral summer dress", "black leather ankle boots", "a cat", "x"]


def row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1))


def on_both(spec: EncoderSpec, encoder_options: Callable[..., EncoderOptions], cache: Path) -> tuple[Encoder, Encoder]:
    encoder_options(backend="onnx", onnx_cache_dir=cache, hub_offline=True)
    onnx = load_encoder(spec, select_runtime("cpu", "fp32"))
    encoder_options(backend="torch", hub_offline=True)
    reference = load_encoder(spec, select_runtime("cpu", "fp32"))
    assert isinstance(onnx, ImageEncoder) and isinstance(reference, ImageEncoder)
    assert (onnx.backend, reference.backend) == ("onnx", "torch")
    return onnx, reference


def test_efficientnet_lite0_vectors_agree_across_backends_on_real_photos(
    photos: list[Image.Image], encoder_options: Callable[..., EncoderOptions], tmp_path: Path
) -> None:
    onnx, reference = on_both(get_spec("efficientnet-lite0"), encoder_options, tmp_path)

    assert onnx.identity == reference.identity, "one identity: no catalogue is re-embedded for a backend"
    assert row_cosines(onnx.encode_images(photos), reference.encode_images(photos)).min() >= 0.9999


@pytest.mark.parametrize("name", ["tiny-dinov2", "tiny-siglip", "tiny-clip"])
def test_tiny_vits_agree_across_backends_in_images_and_text(
    name: str,
    tiny_specs: dict[str, EncoderSpec],
    photos: list[Image.Image],
    encoder_options: Callable[..., EncoderOptions],
    tmp_path: Path,
) -> None:
    onnx, reference = on_both(tiny_specs[name], encoder_options, tmp_path)

    assert onnx.identity == reference.identity
    assert row_cosines(onnx.encode_images(photos), reference.encode_images(photos)).min() >= 0.999
    if reference.supports_text:
        assert row_cosines(onnx.encode_texts(TEXTS), reference.encode_texts(TEXTS)).min() >= 0.999


def test_the_minilm_text_tower_agrees_across_backends(
    encoder_options: Callable[..., EncoderOptions], tmp_path: Path
) -> None:
    onnx, reference = on_both(get_spec("conse-minilm"), encoder_options, tmp_path)

    assert row_cosines(onnx.encode_texts(TEXTS), reference.encode_texts(TEXTS)).min() >= 0.999


def reference_conse(encoder: ConseEncoder, photos: list[Image.Image]) -> np.ndarray:
    """The two-pass path as it was: torch network -> pooled features -> classifier -> top-T mix of class vectors."""
    network = efficientnet_lite.load_network(
        efficientnet_lite.weights_file(encoder.spec), select_runtime("cpu", "fp32")
    )
    pixels = torch.from_numpy(np.stack([encoder.preprocess.pixels(photo) for photo in photos]))
    class_vectors = torch.from_numpy(encoder.class_vectors)
    with torch.inference_mode():
        features = efficientnet_lite.pooled_features(
            network, efficientnet_lite.FeatureTower(network, encoder.preprocess).normalise(pixels)
        )
        probabilities, classes = network._fc(features).float().softmax(dim=-1).topk(encoder.top_k, dim=-1)
        mixed = (probabilities.unsqueeze(-1) * class_vectors[classes]).sum(dim=1)
    return torch.nn.functional.normalize(mixed, dim=-1).numpy()


def test_one_pass_for_both_lite_spaces_gives_each_encoders_own_vectors(
    lite_visual: Encoder, lite_semantic: Encoder, photos: list[Image.Image]
) -> None:
    assert isinstance(lite_visual, ImageEncoder) and isinstance(lite_semantic, ConseEncoder)
    assert lite_visual.backbone == lite_semantic.backbone is not None

    visual, semantic = encode_images_together([lite_visual, lite_semantic], photos)

    assert row_cosines(visual, lite_visual.encode_images(photos)).min() >= 0.99999
    assert row_cosines(semantic, lite_semantic.encode_images(photos)).min() >= 0.99999
    # and the ConSE vectors are those of the old two-pass torch path
    assert row_cosines(semantic, reference_conse(lite_semantic, photos)).min() >= 0.9999


def export_in_child(cache: str) -> str:
    """Build the lite feature tower in a fresh process (as a worker starting would) and return its backend."""
    from embeddings.encoders import EncoderOptions, configure
    from embeddings.encoders.families import efficientnet_lite
    from embeddings.encoders.registry import get_spec
    from embeddings.encoders.runtime import select_runtime

    configure(EncoderOptions(backend="onnx", onnx_cache_dir=Path(cache)))
    tower, _, _ = efficientnet_lite.feature_tower(get_spec("efficientnet-lite0"), select_runtime("cpu", "fp32"))
    return str(tower.backend)


def test_two_processes_starting_at_once_export_one_intact_graph(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        backends = pool.map(export_in_child, [str(tmp_path)] * 2)

    assert backends == ["onnx", "onnx"]
    graphs = list(tmp_path.glob("*.onnx"))
    assert len(graphs) == 1 and not list(tmp_path.glob("*.tmp")), sorted(p.name for p in tmp_path.iterdir())
    assert onnx_cache._intact(graphs[0])


def test_a_damaged_graph_is_detected_and_exported_again(
    lite_visual: Encoder, photos: list[Image.Image], encoder_options: Callable[..., EncoderOptions], tmp_path: Path
) -> None:
    encoder_options(backend="onnx", onnx_cache_dir=tmp_path)
    spec = get_spec("efficientnet-lite0")
    first = load_encoder(spec, select_runtime("cpu", "fp32"))
    (graph,) = tmp_path.glob("*.onnx")
    intact_size = graph.stat().st_size
    with graph.open("r+b") as handle:  # a disk that filled up mid-write
        handle.truncate(intact_size // 3)

    again = load_encoder(spec, select_runtime("cpu", "fp32"))

    assert isinstance(again, ImageEncoder) and again.backend == "onnx"
    assert graph.stat().st_size == intact_size and onnx_cache._intact(graph)
    assert row_cosines(again.encode_images(photos), first.encode_images(photos)).min() >= 0.99999


def test_a_failed_export_falls_back_to_torch_with_one_warning_naming_the_model(
    encoder_options: Callable[..., EncoderOptions],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def unsupported(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Unsupported: ONNX export of operator frobnicate, opset version 18")

    encoder_options(backend="onnx", onnx_cache_dir=tmp_path)
    monkeypatch.setattr(torch.onnx, "export", unsupported)

    with caplog.at_level(logging.WARNING, logger="embeddings.encoders.backends"):
        encoder = load_encoder(get_spec("efficientnet-lite0"), select_runtime("cpu", "fp32"))

    assert isinstance(encoder, ImageEncoder) and encoder.backend == "torch"
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith("efficientnet-lite0 runs on torch") and "frobnicate" in warnings[0]
    assert not list(tmp_path.glob("*.onnx")) and not list(tmp_path.glob("*.tmp"))


def test_onnx_is_refused_where_it_would_not_run_the_same_arithmetic(
    encoder_options: Callable[..., EncoderOptions],
) -> None:
    from embeddings.encoders.backends import resolve_backend

    encoder_options(backend="onnx")
    with pytest.raises(ValueError, match="backend 'onnx' runs fp32 on the CPU"):
        resolve_backend(select_runtime("cpu", "bf16"))
    encoder_options(backend="auto")
    assert resolve_backend(select_runtime("cpu", "fp32")) == "onnx"
    assert resolve_backend(select_runtime("cpu", "bf16")) == "torch"


def test_the_thread_budget_never_exceeds_the_cores_this_process_may_use() -> None:
    code = (
        "from embeddings.encoders.cores import available_cores, thread_budget; b = thread_budget(); "
        "print(available_cores(), b.decode, b.compute)"
    )
    # taskset gives the child one core, as a container's cpuset or a pinned worker would.
    pinned = subprocess.run(
        ["taskset", "-c", "0", sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    cores, decode, compute = map(int, pinned.stdout.split())
    assert (cores, decode, compute) == (1, 1, 1)
    free = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    cores, decode, compute = map(int, free.stdout.split())
    assert decode + compute <= max(cores, 2) and decode >= 1 and compute >= 1
