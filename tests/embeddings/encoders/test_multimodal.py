"""embeddings.encoders.multimodal: the product's words and the blend, without a database or a model."""

from __future__ import annotations

import numpy as np
import pytest

from embeddings.encoders.multimodal import MAX_TEXT_CHARS, blend, product_text


def unit_rows(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_the_blend_is_the_normalised_weighted_sum_of_photo_mean_and_text() -> None:
    rng = np.random.default_rng(0)
    means, words = unit_rows(rng.normal(size=(5, 16))), unit_rows(rng.normal(size=(5, 16)))

    blended = blend(means, words, 0.3)

    expected = 0.7 * means + 0.3 * words
    np.testing.assert_allclose(blended, expected / np.linalg.norm(expected, axis=1, keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(blended, axis=1), 1.0, rtol=1e-6)
    assert blended.dtype == np.float32


def test_a_weight_of_zero_gives_the_photo_mean_and_one_gives_the_text() -> None:
    rng = np.random.default_rng(1)
    means, words = unit_rows(rng.normal(size=(3, 8))), unit_rows(rng.normal(size=(3, 8)))

    np.testing.assert_array_equal(blend(means, words, 0.0), means)
    np.testing.assert_allclose(blend(means, words, 1.0), words, rtol=1e-6)


def test_opposite_vectors_that_cancel_out_keep_the_photo_mean() -> None:
    mean = np.array([[1.0, 0.0]], dtype=np.float32)

    np.testing.assert_array_equal(blend(mean, -mean, 0.5), mean)


@pytest.mark.parametrize("weight", [-0.1, 1.5, float("nan")])
def test_a_weight_outside_zero_to_one_is_refused(weight: float) -> None:
    with pytest.raises(ValueError, match="text weight"):
        blend(np.ones((1, 2)), np.ones((1, 2)), weight)


def test_the_text_puts_title_brand_category_attributes_then_description_and_is_truncated() -> None:
    text = product_text(
        title="Red wool coat",
        brand="Kestrel",
        category="Coats",
        attributes={"colour": "red", "sizes": ["S", "M"], "care": {"wash": "cold"}, "sale": True},
        description="Warm. " * 400,
    )

    assert text.startswith("Red wool coat. Kestrel. Coats. red S M. Warm.")
    assert len(text) == MAX_TEXT_CHARS
    assert product_text(title="Bag", brand=" ", description="") == "Bag"
