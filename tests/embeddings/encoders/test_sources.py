"""Weights are found where the operator put them, or the error says exactly what to do."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import embeddings.encoders as encoders
from embeddings.encoders import (
    EncoderOptions,
    EncoderSpec,
    WeightsUnavailableError,
    get_encoder,
    register,
    weights_available,
)
from embeddings.encoders.loader import clear_cache


def test_missing_hub_model_offline_raises_one_clear_line(
    encoder_options: Callable[..., EncoderOptions], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    encoder_options(hub_offline=True)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    register(
        EncoderSpec(
            name="absent", family="dinov2", source="example-org/absent-model", dim=8, modality="image", image_size=224
        )
    )
    with pytest.raises(WeightsUnavailableError) as raised:
        get_encoder("absent")
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("weights for absent (example-org/absent-model) not found locally")
    assert "hf download example-org/absent-model" in message
    assert "EMBEDDINGS_MODEL_DIR" in message
    # The chain is cut so logs show our sentence, not huggingface_hub internals.
    assert raised.value.__cause__ is None
    assert raised.value.__context__ is None or raised.value.__suppress_context__


def test_unreachable_hub_raises_the_same_clear_line(
    encoder_options: Callable[..., EncoderOptions], monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub

    def unreachable(*args: object, **kwargs: object) -> str:
        raise ConnectionError("Failed to resolve 'huggingface.co'")

    encoder_options(hub_offline=False)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", unreachable)
    register(
        EncoderSpec(
            name="far", family="siglip", source="example-org/far-model", dim=8, modality="image+text", image_size=224
        )
    )
    with pytest.raises(
        WeightsUnavailableError,
        match=r"^weights for far \(example-org/far-model\) not found "
        r"locally and the hub is unreachable; download them with `hf download",
    ) as raised:
        get_encoder("far")
    assert raised.value.__suppress_context__


def test_missing_local_directory_names_the_directory(tmp_path: Path) -> None:
    register(
        EncoderSpec(
            name="gone", family="dinov2", source=str(tmp_path / "nowhere"), dim=8, modality="image", image_size=224
        )
    )
    with pytest.raises(WeightsUnavailableError, match=r"directory .*nowhere does not exist"):
        get_encoder("gone")


def test_model_dir_is_searched_by_hub_id_then_by_name(model_dir: Path, tiny_specs: dict[str, EncoderSpec]) -> None:
    source = Path(tiny_specs["tiny-dinov2"].source)
    by_id = EncoderSpec(name="by-id", family="dinov2", source="acme/dino", dim=32, modality="image", image_size=28)
    by_name = EncoderSpec(name="by-name", family="dinov2", source="acme/other", dim=32, modality="image", image_size=28)
    register(by_id)
    register(by_name)
    assert not weights_available("by-id") and not weights_available("by-name")
    shutil.copytree(source, model_dir / "acme" / "dino")
    shutil.copytree(source, model_dir / "by-name")
    assert weights_available("by-id") and weights_available("by-name")
    assert get_encoder("by-id").identity.split("@")[1] == get_encoder("by-name").identity.split("@")[1]


def test_weights_available_for_the_lite_profile_without_loading_anything() -> None:
    assert weights_available("efficientnet-lite0")
    assert weights_available("conse-minilm")


def test_get_encoder_loads_once_across_threads(tiny_specs: dict[str, EncoderSpec]) -> None:
    clear_cache()
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(get_encoder("tiny-siglip"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and all(result is results[0] for result in results)


def test_registering_a_new_spec_replaces_the_cached_encoder(tiny_specs: dict[str, EncoderSpec]) -> None:
    spec = tiny_specs["tiny-dinov2"]
    register(EncoderSpec(**{**spec.__dict__, "name": "swap"}))
    first = get_encoder("swap")
    register(EncoderSpec(**{**spec.__dict__, "name": "swap", "description": "changed"}))
    assert get_encoder("swap") is not first


def test_module_conveniences_encode_through_the_cached_encoder(tiny_specs: dict[str, EncoderSpec]) -> None:
    from PIL import Image

    vectors = encoders.encode_images("tiny-siglip", [Image.new("RGB", (40, 30), (10, 200, 30))])
    texts = encoders.encode_texts("tiny-siglip", ["green"])
    assert vectors.shape == texts.shape == (1, 32)


@pytest.mark.parametrize(
    ("field", "value"), [("device", "gpu"), ("cpu_dtype", "fp16"), ("forward_batch_size", 0), ("decode_workers", -1)]
)
def test_bad_options_fail_fast_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field):
        EncoderOptions(**{field: value})


def test_cpu_dtype_auto_picks_bf16_only_with_amx(
    encoder_options: Callable[..., EncoderOptions], monkeypatch: pytest.MonkeyPatch
) -> None:
    from embeddings.encoders import runtime

    encoder_options(device="cpu")
    monkeypatch.setattr(runtime, "cpu_has_fast_bf16", lambda: False)
    assert runtime.select_runtime().label == "cpu/fp32"
    monkeypatch.setattr(runtime, "cpu_has_fast_bf16", lambda: True)
    assert runtime.select_runtime().label == "cpu/bfloat16"
    encoder_options(device="cpu", cpu_dtype="fp32")
    assert runtime.select_runtime().label == "cpu/fp32"
