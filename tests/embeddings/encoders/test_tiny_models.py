"""Tiny DINOv2 / SigLIP checkpoints loaded through the production loader behave like the real ones."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from embeddings.encoders.base import Encoder
from embeddings.encoders.families.siglip import SiglipEncoder
from embeddings.encoders.loader import load_encoder
from embeddings.encoders.registry import EncoderSpec
from embeddings.encoders.runtime import select_runtime
from tests.embeddings.encoders.conftest import jpeg_bytes

# bf16 keeps 8 bits of mantissa; on these models cosine(bf16, fp32) stays above 0.99.
BF16_MIN_COSINE = 0.99


def test_batched_equals_one_at_a_time(tiny_dinov2: Encoder, tiny_siglip: Encoder, photos: list[Image.Image]) -> None:
    for encoder in (tiny_dinov2, tiny_siglip):
        batched = encoder.encode_images(photos, batch_size=4)
        single = np.concatenate([encoder.encode_images([photo], batch_size=1) for photo in photos])
        np.testing.assert_allclose(batched, single, atol=1e-5)


def test_every_row_has_unit_norm(tiny_dinov2: Encoder, tiny_siglip: Encoder, photos: list[Image.Image]) -> None:
    for encoder in (tiny_dinov2, tiny_siglip):
        vectors = encoder.encode_images(photos)
        assert vectors.dtype == np.float32
        assert vectors.shape == (len(photos), encoder.dim)
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_bytes_and_images_give_the_same_vectors(tiny_dinov2: Encoder, chelsea: Image.Image) -> None:
    data = jpeg_bytes(chelsea, quality=95)
    from_bytes = tiny_dinov2.encode_images([data])
    from_image = tiny_dinov2.encode_images([Image.open(io.BytesIO(data)).convert("RGB")])
    # Bytes decode with libjpeg's reduced-size draft mode, images are resized from full size.
    assert float((from_bytes @ from_image.T)[0, 0]) > 0.99


def test_bf16_stays_within_tolerance_of_fp32(tiny_specs: dict[str, EncoderSpec], photos: list[Image.Image]) -> None:
    for name in ("tiny-dinov2", "tiny-siglip"):
        fp32 = load_encoder(tiny_specs[name], select_runtime("cpu", "fp32")).encode_images(photos)
        bf16 = load_encoder(tiny_specs[name], select_runtime("cpu", "bf16")).encode_images(photos)
        cosines = np.sum(fp32 * bf16, axis=1)
        assert cosines.min() > BF16_MIN_COSINE, name


def test_siglip_text_and_images_share_one_space(tiny_siglip: Encoder, photos: list[Image.Image]) -> None:
    images = tiny_siglip.encode_images(photos)
    texts = tiny_siglip.encode_texts(["a photo of a cat", "a red running shoe", "denim jacket"])
    assert images.shape[1] == texts.shape[1] == tiny_siglip.dim
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)
    similarities = images @ texts.T
    assert np.all(np.isfinite(similarities))
    assert np.all(np.abs(similarities) <= 1.0 + 1e-5)


def test_siglip_tokenizer_pads_to_64_with_eos(tiny_siglip: Encoder) -> None:
    assert isinstance(tiny_siglip, SiglipEncoder)
    ids = tiny_siglip.tokenize(["a cat", "a much longer description of a red leather shoe " * 20])
    assert ids.shape == (2, 64)
    pad_id = tiny_siglip.tokenizer.pad_token_id
    assert pad_id == tiny_siglip.tokenizer.eos_token_id == 1
    assert ids[0, -1].item() == pad_id


def test_siglip_text_vectors_do_not_depend_on_the_batch(tiny_siglip: Encoder) -> None:
    texts = ["a cat", "a much longer description of a red leather shoe"]
    together = tiny_siglip.encode_texts(texts)
    apart = np.concatenate([tiny_siglip.encode_texts([text]) for text in texts])
    np.testing.assert_allclose(together, apart, atol=1e-5)


def test_image_only_encoders_refuse_text(tiny_dinov2: Encoder) -> None:
    assert not tiny_dinov2.supports_text
    with pytest.raises(TypeError, match="image-only"):
        tiny_dinov2.encode_texts(["a cat"])


def test_identity_names_the_encoder_and_hashes_its_weights(
    tiny_dinov2: Encoder, tiny_specs: dict[str, EncoderSpec]
) -> None:
    name, digest = tiny_dinov2.identity.split("@")
    assert name == "tiny-dinov2"
    assert len(digest) == 12
    reloaded = load_encoder(tiny_specs["tiny-dinov2"], select_runtime("cpu", "fp32"))
    assert reloaded.identity == tiny_dinov2.identity


def test_empty_input_gives_an_empty_matrix(tiny_siglip: Encoder) -> None:
    assert tiny_siglip.encode_images([]).shape == (0, tiny_siglip.dim)
    assert tiny_siglip.encode_texts([]).shape == (0, tiny_siglip.dim)
