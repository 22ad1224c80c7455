from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from recommender.storefront.selectors.cards import GRID_PAGE_SIZE
from tests.recommender.pages_fixtures import Shop, clean_cache, merchandiser, private_media, shop

# The pages' fixtures (tests/recommender/pages_fixtures.py), beside this directory's API ones.
__all__ = ["clean_cache", "merchandiser", "private_media", "shop"]


@pytest.mark.django_db
def test_it_lists_active_products_newest_first_with_their_small_thumbnails(
    client: Client, shop: Shop, django_assert_max_num_queries: Any
) -> None:
    # Given two active products with photos and an inactive one
    older = shop.product(title="Blue canvas sneaker", category="shoes")
    newer = shop.product(title="Red wool scarf", category="scarves", photos=2)
    shop.product(title="Withdrawn lamp", is_active=False)

    # When the storefront is opened
    with django_assert_max_num_queries(4):
        response = client.get("/")

    # Then both active products show, newest first, each with its 160 px thumbnail and alt text
    html = response.content.decode()
    assert response.status_code == 200
    assert html.index("Red wool scarf") < html.index("Blue canvas sneaker")
    assert "Withdrawn lamp" not in html
    primary = newer.images.order_by("position").first()
    assert primary is not None
    assert f'src="/media/{primary.thumbnails["160"]}" alt="Red wool scarf"' in html
    assert f'href="/p/{older.pk}/"' in html
    assert 'All products <span class="count">(2)</span>' in html


@pytest.mark.django_db
def test_it_filters_the_grid_by_category_and_counts_each_category(client: Client, shop: Shop) -> None:
    shop.product(title="Blue canvas sneaker", category="shoes")
    shop.product(title="Leather boot", category="shoes")
    shop.product(title="Red wool scarf", category="scarves")

    html = client.get("/?category=shoes").content.decode()

    assert "Blue canvas sneaker" in html and "Leather boot" in html
    assert "Red wool scarf" not in html
    assert '<a href="?category=shoes" aria-current="page">Shoes <span class="count">2</span></a>' in html
    assert 'Scarves <span class="count">1</span>' in html


@pytest.mark.django_db
def test_it_pages_through_a_catalog_larger_than_one_page(client: Client, shop: Shop) -> None:
    for number in range(GRID_PAGE_SIZE + 3):
        shop.product(title=f"Item number {number}")

    first = client.get("/").content.decode()
    second = client.get("/?page=2").content.decode()

    assert "Page 1 of 2" in first and 'rel="next"' in first
    assert second.count('class="card"') == 3 and "Item number 0" in second


@pytest.mark.django_db
def test_it_falls_back_to_the_original_photo_when_thumbnails_are_missing(client: Client, shop: Shop) -> None:
    item = shop.product(title="Fresh upload", thumbnails=False)

    html = client.get("/").content.decode()

    assert f'src="/media/{item.images.get().file.name}" alt="Fresh upload"' in html


@pytest.mark.django_db
def test_it_shows_a_product_page_with_large_thumbnails_and_the_more_like_this_row(client: Client, shop: Shop) -> None:
    item = shop.product(
        title="Green linen shirt", category="shirts", photos=2, brand="Acme", attributes={"colour": "green"}
    )

    response = client.get(f"/p/{item.pk}/")

    html = response.content.decode()
    photos = list(item.images.order_by("position"))
    assert response.status_code == 200
    assert f'src="/media/{photos[0].thumbnails["480"]}" alt="Green linen shirt, photo 1 of 2"' in html
    assert f'data-photo="/media/{photos[1].thumbnails["480"]}"' in html
    assert '<h2 id="mlt-title">More like this</h2>' in html
    assert f'data-product-id="{item.pk}"' in html
    assert "<dt>colour</dt><dd>green</dd>" in html and "Acme" in html


@pytest.mark.django_db
def test_it_answers_404_for_a_missing_or_withdrawn_product(client: Client, shop: Shop) -> None:
    withdrawn = shop.product(is_active=False)

    assert client.get(f"/p/{withdrawn.pk}/").status_code == 404
    assert client.get("/p/999999/").status_code == 404


@pytest.mark.django_db
def test_shoppers_see_no_merchandiser_links_but_merchandisers_do(client: Client, merchandiser: Client) -> None:
    anonymous = Client().get("/").content.decode()
    staff_view = merchandiser.get("/").content.decode()

    assert "/staff/duplicates/" not in anonymous and "Staff sign in" in anonymous
    assert all(link in staff_view for link in ("/staff/duplicates/", "/staff/matrix/", "/staff/map/"))
