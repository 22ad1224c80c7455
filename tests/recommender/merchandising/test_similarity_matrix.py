from __future__ import annotations

import math
from typing import Any

import pytest
from django.test import Client

from embeddings.models import ProductVector
from recommender.merchandising.selectors import MAX_MATRIX_PRODUCTS, similarity_matrix
from tests.recommender.pages_fixtures import Shop, unit


@pytest.mark.django_db
def test_it_computes_the_cosine_similarity_of_every_pair_from_the_active_encoders_vectors(
    shop: Shop, encoders: None
) -> None:
    # Given three products at known angles in the visual space
    a = shop.product(visual=[1, 0, 0, 0])
    b = shop.product(visual=[1, 1, 0, 0])
    c = shop.product(visual=[0, 0, 1, 0])
    # and a vector of a retired encoder that must never be compared
    ProductVector.objects.create(product=c, space="visual", encoder="old-visual@0", embedding=unit([1, 0, 0, 0]))

    result = similarity_matrix(space="visual", product_ids=[a.pk, b.pk, c.pk])

    assert result.encoder == "pages-visual@1"
    assert result.product_ids == [a.pk, b.pk, c.pk]
    expected = [[1, math.sqrt(0.5), 0], [math.sqrt(0.5), 1, 0], [0, 0, 1]]
    for row, want in zip(result.values, expected, strict=True):
        assert row == pytest.approx(want, abs=2e-3)  # halfvec storage: ~3 significant digits


@pytest.mark.django_db
def test_it_leaves_out_products_without_a_vector_and_refuses_more_than_fifty(shop: Shop, encoders: None) -> None:
    with_vector = shop.product(visual=[1, 0, 0, 0])
    without = shop.product()

    assert similarity_matrix(space="visual", product_ids=[with_vector.pk, without.pk]).product_ids == [with_vector.pk]
    with pytest.raises(ValueError, match="at most 50"):
        similarity_matrix(space="visual", product_ids=list(range(1, MAX_MATRIX_PRODUCTS + 2)))


@pytest.mark.django_db
def test_it_renders_both_spaces_as_heatmaps_with_thumbnails_on_both_axes(
    merchandiser: Client, shop: Shop, encoders: None, django_assert_max_num_queries: Any
) -> None:
    # Given a category of three products, alike visually but not semantically
    items = [
        shop.product(category="bags", title="Tote", visual=[1, 0, 0, 0], semantic=[1, 0, 0, 0]),
        shop.product(category="bags", title="Clutch", visual=[1, 0.1, 0, 0], semantic=[0, 1, 0, 0]),
        shop.product(category="bags", title="Satchel", visual=[1, 0, 0.1, 0], semantic=[0, 0, 1, 0]),
    ]

    with django_assert_max_num_queries(12):
        response = merchandiser.get("/staff/matrix/?category=bags")

    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('<table class="heatmap">') == 2
    thumbnail = items[0].images.get().thumbnails["160"]
    # each product's thumbnail on both axes of both matrices
    assert html.count(f'src="/media/{thumbnail}" alt="Tote"') == 4
    assert 'title="Tote \u00d7 Clutch: 0.995"' in html  # visual: nearly the same look
    assert 'title="Tote \u00d7 Clutch: 0.000"' in html  # semantic: unrelated


@pytest.mark.django_db
def test_it_compares_a_selection_of_ids_capped_at_fifty(merchandiser: Client, shop: Shop, encoders: None) -> None:
    items = [shop.product(visual=[1, index, 0, 0], semantic=[0, 1, index, 0]) for index in range(52)]
    ids = ",".join(str(item.pk) for item in items)

    html = merchandiser.get(f"/staff/matrix/?ids={ids}&label=My+picks").content.decode()

    assert "Showing the first 50 of the 52 products asked for." in html
    assert "My picks" in html
    assert html.count('<th scope="row">') == 2 * MAX_MATRIX_PRODUCTS


@pytest.mark.django_db
def test_it_says_so_when_a_space_has_no_encoder_yet(merchandiser: Client, shop: Shop) -> None:
    shop.product(category="bags")

    html = merchandiser.get("/staff/matrix/?category=bags").content.decode()

    assert "The visual space has no encoder yet" in html and "The semantic space has no encoder yet" in html
