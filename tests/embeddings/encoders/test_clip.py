"""The CLIP family: a tiny CLIPModel through the production loader gives the vectors transformers gives.

The reference is CLIPModel itself, fed by CLIPImageProcessor and by the tokenizer padding to the
longest text with an attention mask: what a transformers user gets for these checkpoints.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from embeddings.encoders import EncoderOptions, WeightsUnavailableError, get_encoder, get_spec, weights_available
from embeddings.encoders.base import Encoder
from embeddings.encoders.families.clip import TEXT_LENGTH, ClipEncoder
from embeddings.encoders.loader import load_encoder
from embeddings.encoders.registry import PROFILES, EncoderSpec, register, registered_names
from embeddings.encoders.runtime import select_runtime

TEXTS = ["a photo of a cat", "a red running shoe", "denim jacket for men, size large", "x"]
CLIP_NAMES = ["clip-vit-large-patch14", "clip-vit-h-14-laion2b-s32b-b79k", "clip-vit-b-32-laion2b-s34b-b79k"]


def reference_model(encoder: Encoder) -> tuple[object, object]:
    from transformers import AutoTokenizer, CLIPModel

    model = CLIPModel.from_pretrained(encoder.spec.source, attn_implementation="eager").eval()
    return model, AutoTokenizer.from_pretrained(encoder.spec.source)


def unit(rows: torch.Tensor) -> np.ndarray:
    return torch.nn.functional.normalize(rows, dim=-1).numpy()


def test_image_vectors_are_clips_projected_image_features(tiny_clip: Encoder, photos: list[Image.Image]) -> None:
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    model, _ = reference_model(tiny_clip)
    pixels = CLIPImageProcessorPil.from_pretrained(tiny_clip.spec.source)(images=photos, return_tensors="pt")
    with torch.inference_mode():
        expected = unit(model.get_image_features(pixel_values=pixels["pixel_values"]).pooler_output)  # type: ignore[attr-defined]

    vectors = tiny_clip.encode_images(photos)

    assert vectors.dtype == np.float32 and vectors.shape == (len(photos), 24)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors, expected, atol=1e-4)


def test_text_padded_to_77_without_a_mask_gives_the_masked_vectors_of_the_shortest_padding(
    tiny_clip: Encoder,
) -> None:
    model, tokenizer = reference_model(tiny_clip)
    tokens = tokenizer(TEXTS, padding=True, return_tensors="pt")  # type: ignore[operator]
    with torch.inference_mode():
        expected = unit(model.get_text_features(**tokens).pooler_output)  # type: ignore[attr-defined]

    vectors = tiny_clip.encode_texts(TEXTS)

    assert vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), 24)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors, expected, atol=1e-4)


def test_the_tokenizer_pads_to_77_and_a_long_text_keeps_its_end_token(tiny_clip: Encoder) -> None:
    assert isinstance(tiny_clip, ClipEncoder)
    ids = tiny_clip.tokenize(["a cat", "a much longer description of a red leather shoe " * 20])
    eos = tiny_clip.tokenizer.eos_token_id

    assert ids.shape == (2, TEXT_LENGTH)
    assert ids[0, 0] == ids[1, 0] == tiny_clip.tokenizer.bos_token_id
    # The legacy configs pool the highest id: that must be the (first) end token, also when truncated.
    assert eos == ids.max() and list(ids.argmax(axis=1)) == [int(np.flatnonzero(row == eos)[0]) for row in ids]
    assert ids[1, -1] == eos


def test_images_and_texts_share_one_space_and_do_not_depend_on_the_batch(
    tiny_clip: Encoder, photos: list[Image.Image]
) -> None:
    images = tiny_clip.encode_images(photos, batch_size=3)
    texts = tiny_clip.encode_texts(TEXTS)

    assert images.shape[1] == texts.shape[1] == tiny_clip.dim == 24
    np.testing.assert_allclose(
        images, np.concatenate([tiny_clip.encode_images([p], batch_size=1) for p in photos]), atol=1e-5
    )
    np.testing.assert_allclose(texts, np.concatenate([tiny_clip.encode_texts([t]) for t in TEXTS]), atol=1e-5)
    assert tiny_clip.supports_text and tiny_clip.encode_texts([]).shape == (0, 24)


def test_the_registry_names_the_clip_checkpoints_as_semantic_candidates() -> None:
    specs = {name: get_spec(name) for name in CLIP_NAMES}

    assert set(CLIP_NAMES) <= set(registered_names())
    assert {name: (spec.source, spec.dim) for name, spec in specs.items()} == {
        "clip-vit-large-patch14": ("openai/clip-vit-large-patch14", 768),
        "clip-vit-h-14-laion2b-s32b-b79k": ("laion/CLIP-ViT-H-14-laion2B-s32B-b79K", 1024),
        "clip-vit-b-32-laion2b-s34b-b79k": ("laion/CLIP-ViT-B-32-laion2B-s34B-b79K", 512),
    }
    assert all(spec.family == "clip" and spec.supports_text for spec in specs.values())
    assert PROFILES["full"]["semantic"] == "siglip-base-patch16-224", "selectable, not the default"


def test_offline_and_missing_the_error_says_what_to_download(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))

    assert not weights_available("clip-vit-h-14-laion2b-s32b-b79k")
    with pytest.raises(WeightsUnavailableError) as raised:
        load_encoder(get_spec("clip-vit-h-14-laion2b-s32b-b79k"), select_runtime("cpu", "fp32"))

    assert str(raised.value).startswith(
        "weights for clip-vit-h-14-laion2b-s32b-b79k (laion/CLIP-ViT-H-14-laion2B-s32B-b79K) not found locally "
        "and HF_HUB_OFFLINE is set; download them with `hf download laion/CLIP-ViT-H-14-laion2B-s32B-b79K`"
    )


def test_a_checkpoint_under_the_hub_id_in_the_model_dir_is_found_offline_and_openclip_copies_are_ignored(
    model_dir: Path,
    tiny_specs: dict[str, EncoderSpec],
    tiny_clip: Encoder,
    encoder_options: Callable[..., EncoderOptions],
) -> None:
    # fp32 as tiny_clip was loaded: on a CPU with AMX, "auto" would pick bf16 and the vectors differ by rounding.
    encoder_options(model_dir=model_dir, hub_offline=True, cpu_dtype="fp32")
    # LAION's layout: the transformers files beside OpenCLIP's own copy of the weights.
    target = model_dir / "laion" / "CLIP-B-tiny"
    shutil.copytree(tiny_specs["tiny-clip"].source, target)
    (target / "open_clip_model.safetensors").write_bytes(b"OpenCLIP's format, never read by from_pretrained")
    register(
        EncoderSpec(
            name="laion-tiny", family="clip", source="laion/CLIP-B-tiny", dim=24, modality="image+text", image_size=32
        )
    )

    assert weights_available("laion-tiny")
    encoder = get_encoder("laion-tiny")

    assert encoder.identity.split("@")[1] == tiny_clip.identity.split("@")[1], "same weights, same digest"
    np.testing.assert_allclose(encoder.encode_texts(TEXTS), tiny_clip.encode_texts(TEXTS), atol=1e-6)


def test_weights_of_another_width_fail_in_one_line_naming_both(
    tiny_specs: dict[str, EncoderSpec], encoder_options: Callable[..., EncoderOptions]
) -> None:
    encoder_options(hub_offline=True)
    wrong = EncoderSpec(
        name="wide-clip",
        family="clip",
        source=tiny_specs["tiny-clip"].source,
        dim=768,
        modality="image+text",
        image_size=224,
    )

    with pytest.raises(WeightsUnavailableError, match=r"^weights for wide-clip in .* make 24-d vectors, not the 768-d"):
        load_encoder(wrong, select_runtime("cpu", "fp32"))
