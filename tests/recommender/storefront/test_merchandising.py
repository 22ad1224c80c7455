"""Merchandising on the shopper API: per-request boosts and pins, and the store-wide rules, shown in the scores."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import resolve
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from catalog.models import Category, Product
from embeddings.models import ProductNeighbours
from embeddings.neighbours import neighbour_lists_rebuild
from embeddings.selectors import active_encoders
from recommender.merchandising.models import MerchandisingRule, RuleKind
from recommender.merchandising.services import merchandising_rule_save
from tests.recommender.storefront.conftest import Catalog, axis, ids
from tests.recommender.storefront.test_similar_neighbours import assert_both_hnsw_indexes_serve, listed

__all__ = ["listed"]  # the fixture: 120 products with stored lists

pytestmark = pytest.mark.django_db


def similar(client: Client, source: Product, **params: Any) -> Any:
    return client.get(f"/api/v1/products/{source.pk}/similar/", {"max_similarity": "1", **params})


def ladder(catalog: Catalog, count: int = 4, **fields: Any) -> tuple[Product, list[Product]]:
    """A source and `count` products ever farther from it (in both spaces), nearest first."""
    source = catalog.product(visual=axis(0), semantic=axis(0), **fields)
    rungs = [
        catalog.product(visual=axis(0, tilt=0.3 * (i + 1), towards=1), semantic=axis(0, tilt=0.3 * (i + 1), towards=1))
        for i in range(count)
    ]
    return source, rungs


def rule(**fields: Any) -> MerchandisingRule:
    return merchandising_rule_save(rule=MerchandisingRule(**fields))


def scores(response: Any, product: Product) -> dict[str, Any]:
    return next(r["scores"] for r in response.json()["results"] if r["id"] == product.pk)


def test_a_boost_reorders_the_list_and_shows_in_the_scores(client: Client, catalog: Catalog) -> None:
    # Given four products ever farther from the source, the third of brand Acme
    source, rungs = ladder(catalog)
    Product.objects.filter(pk=rungs[2].pk).update(brand="Acme")
    plain = scores(similar(client, source), rungs[2])

    # When the storefront boosts Acme
    response = similar(client, source, boost="brand:Acme:0.5")

    # Then Acme's product leads, its combined score is its own plus the boost, and it says why
    assert response.status_code == 200
    assert ids(response) == [rungs[2].pk, rungs[0].pk, rungs[1].pk, rungs[3].pk]
    boosted = scores(response, rungs[2])
    assert boosted["boost"] == pytest.approx(0.5)
    assert boosted["combined"] == pytest.approx(plain["combined"] + 0.5, abs=1e-5)
    assert boosted["rules"] == ["brand:Acme:0.5"]
    assert scores(response, rungs[0])["boost"] == 0 and scores(response, rungs[0])["rules"] == []
    assert response.json()["diagnostics"]["rules"] == ["brand:Acme:0.5"]


def test_a_negative_boost_buries_and_boosts_on_one_product_add_up(client: Client, catalog: Catalog) -> None:
    source, rungs = ladder(catalog)
    Product.objects.filter(pk=rungs[0].pk).update(brand="Acme", attributes={"season": "summer"})

    response = client.get(
        f"/api/v1/products/{source.pk}/similar/",
        {"max_similarity": "1", "boost": ["brand:Acme:-0.6", "attr.season:summer:0.1"]},
    )

    assert ids(response)[-1] == rungs[0].pk
    buried = scores(response, rungs[0])
    assert buried["boost"] == pytest.approx(-0.5)
    assert buried["rules"] == ["brand:Acme:-0.6", "attr.season:summer:0.1"]


def test_a_category_boost_names_the_category_by_slug(client: Client, catalog: Catalog) -> None:
    source, _ = ladder(catalog)
    catalog.product(visual=axis(0, tilt=5, towards=1), semantic=axis(0, tilt=5, towards=1), category="bags")
    bag = Product.objects.get(category__slug="bags")

    response = similar(client, source, boost="category:bags:0.9")

    assert ids(response)[0] == bag.pk and scores(response, bag)["rules"] == ["category:bags:0.9"]


def test_a_pin_places_a_product_at_its_position_even_when_it_is_no_candidate(
    client: Client, catalog: Catalog, settings: SettingsWrapper
) -> None:
    # Given windows of three candidates per space, so that the farthest of five products is not one of them
    settings.RECOMMENDER_PAGE_WINDOW = 3
    source, rungs = ladder(catalog, count=5)
    Product.objects.filter(pk=rungs[1].pk).update(is_active=False)

    # When the storefront pins it at position 2 (and a product that does not exist, and an inactive one, at 1 and 3)
    pins = [f"{rungs[4].pk}:2", "999999:1", f"{rungs[1].pk}:3"]
    response = similar(client, source, limit="2", pin=pins)

    # Then it is second, says it was pinned, keeps its real similarity; the other pins are reported, not an error
    assert response.status_code == 200
    assert response.json()["diagnostics"]["candidates_per_space"] == 3
    assert ids(response) == [rungs[0].pk, rungs[4].pk]
    pinned = scores(response, rungs[4])
    assert pinned["rules"] == ["pin"] and pinned["visual"] < scores(response, rungs[0])["visual"]
    assert response.json()["diagnostics"]["pins_unplaced"] == [999999, rungs[1].pk]
    # And the next page goes on without repeating it
    assert ids(similar(client, source, limit="2", offset="2", pin=pins)) == [rungs[2].pk, rungs[3].pk]


def test_a_pinned_product_that_the_filters_exclude_is_not_placed(client: Client, catalog: Catalog) -> None:
    source, rungs = ladder(catalog)
    Product.objects.filter(pk=rungs[3].pk).update(stock=0)

    response = similar(client, source, in_stock="true", pin=f"{rungs[3].pk}:1")

    assert rungs[3].pk not in ids(response)
    assert response.json()["diagnostics"]["pins_unplaced"] == [rungs[3].pk]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"boost": "brand"}, "boost"),
        ({"boost": "brand:Acme"}, "boost"),
        ({"boost": "brand:Acme:2"}, "boost"),
        ({"boost": "brand:Acme:nan"}, "boost"),
        ({"boost": "brand::0.1"}, "boost"),
        ({"boost": "colour:red:0.1"}, "boost"),
        ({"boost": "attr.bad name:red:0.1"}, "boost"),
        ({"boost": "category:no-such:0.1"}, "boost"),
        ({"boost": [f"brand:B{i}:0.1" for i in range(9)]}, "boost"),
        ({"pin": "12"}, "pin"),
        ({"pin": "x:1"}, "pin"),
        ({"pin": "12:0"}, "pin"),
        ({"pin": "12:61"}, "pin"),
        ({"pin": "0:1"}, "pin"),
        ({"pin": "99999999999999999999:1"}, "pin"),
        ({"pin": ["12:1", "13:1"]}, "pin"),
        ({"pin": ["12:1", "12:2"]}, "pin"),
    ],
)
def test_a_bad_boost_or_pin_is_a_400_naming_it(
    client: Client, catalog: Catalog, params: dict[str, Any], name: str
) -> None:
    source, _ = ladder(catalog, count=1)

    response = similar(client, source, **params)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and error["message"].startswith(name), error


def test_recommendations_take_boosts_and_pins_in_the_json_body(client: Client, catalog: Catalog) -> None:
    source, rungs = ladder(catalog)
    Product.objects.filter(pk=rungs[1].pk).update(brand="Acme")
    body = {"liked": [source.pk], "boost": ["brand:Acme:0.5"], "pin": [f"{rungs[3].pk}:1"], "diversity": 0}

    response = client.post("/api/v1/recommendations/", body, content_type="application/json")

    assert response.status_code == 200, response.content
    assert ids(response)[:2] == [rungs[3].pk, rungs[1].pk]
    assert scores(response, rungs[1])["rules"] == ["brand:Acme:0.5"] and scores(response, rungs[3])["rules"] == ["pin"]

    bad = client.post("/api/v1/recommendations/", {"pin": ["1:x"]}, content_type="application/json")
    assert bad.status_code == 400 and bad.json()["error"]["message"].startswith("pin")


def test_the_starter_set_takes_pins_and_boosts_too(client: Client, catalog: Catalog) -> None:
    _, rungs = ladder(catalog)
    Product.objects.filter(pk=rungs[2].pk).update(brand="Acme")
    body = {"boost": ["brand:Acme:0.5"], "pin": [f"{rungs[0].pk}:1"]}

    response = client.post("/api/v1/recommendations/", body, content_type="application/json")

    assert response.status_code == 200, response.content
    assert ids(response)[0] == rungs[0].pk and scores(response, rungs[0])["rules"] == ["pin"]
    assert scores(response, rungs[2])["boost"] == pytest.approx(0.5)


def test_search_takes_boosts_and_pins_on_top_of_its_word_matches(
    client: Client, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given three dresses matching the words, nearest first in the semantic space, and a coat that does not match
    vector = np.asarray(axis(0), np.float32)
    # The view's module as the URLconf loads it (imported on its own, config.errors meets DRF half-initialised).
    view = sys.modules[resolve("/api/v1/search/").func.__module__]
    monkeypatch.setattr(view, "text_query_vector", lambda words, encoders: vector)
    dresses = [catalog.product(title="Summer dress", semantic=axis(0, tilt=0.2 * (i + 1), towards=1)) for i in range(3)]
    coat = catalog.product(title="Winter coat", semantic=axis(0, tilt=3, towards=1))
    Product.objects.filter(pk=dresses[2].pk).update(brand="Acme")

    # When the storefront boosts Acme and pins the coat first
    response = client.get("/api/v1/search/", {"q": "dress", "boost": "brand:Acme:0.5", "pin": f"{coat.pk}:1"})

    # Then the coat leads (pinned), Acme's dress comes next, and the match levels still show
    assert response.status_code == 200, response.content
    assert ids(response) == [coat.pk, dresses[2].pk, dresses[0].pk, dresses[1].pk]
    assert scores(response, coat)["rules"] == ["pin"] and scores(response, coat)["match"] == "semantic"
    assert scores(response, dresses[2])["match"] == "every_word" and scores(response, dresses[2])["boost"] == 0.5


def test_store_rule_buries_out_of_stock_products(client: Client, catalog: Catalog) -> None:
    # Given the nearest product sold out, and a store rule burying what is out of stock
    source, rungs = ladder(catalog)
    Product.objects.filter(pk=rungs[0].pk).update(stock=0)
    rule(name="Sold out last", kind=RuleKind.BURY_OUT_OF_STOCK, amount=-0.8)

    response = similar(client, source)

    assert ids(response)[-1] == rungs[0].pk
    assert scores(response, rungs[0])["rules"] == ["Sold out last"]
    assert scores(response, rungs[0])["boost"] == pytest.approx(-0.8)
    assert response.json()["diagnostics"]["rules"] == ["Sold out last"]


def test_store_rule_boosts_new_arrivals_for_n_days(client: Client, catalog: Catalog) -> None:
    source, rungs = ladder(catalog)
    Product.objects.exclude(pk=rungs[3].pk).update(created_at=timezone.now() - timedelta(days=30))
    rule(name="New in", kind=RuleKind.BOOST_NEW_ARRIVALS, days=7, amount=0.9)

    response = similar(client, source)

    assert ids(response)[0] == rungs[3].pk and scores(response, rungs[3])["rules"] == ["New in"]
    assert all(scores(response, p)["boost"] == 0 for p in rungs[:3])


def test_a_disabled_rule_does_nothing_and_an_edit_applies_at_once_in_this_process(
    client: Client, catalog: Catalog
) -> None:
    source, rungs = ladder(catalog)
    Product.objects.filter(pk=rungs[3].pk).update(brand="Acme")
    saved = rule(name="Acme first", kind=RuleKind.BOOST_FIELD, field="brand", value="Acme", amount=0.9, enabled=False)
    assert ids(similar(client, source))[0] == rungs[0].pk

    saved.enabled = True
    merchandising_rule_save(rule=saved)

    assert ids(similar(client, source))[0] == rungs[3].pk


@pytest.mark.parametrize("lists", [False, True], ids=["live", "neighbours"])
def test_store_rule_keeps_a_category_out_of_similar_and_still_fills_the_page(
    client: Client, catalog: Catalog, settings: SettingsWrapper, lists: bool
) -> None:
    # Given a pair of shoes whose three nearest products are socks, then five bags
    source = catalog.product(visual=axis(0), semantic=axis(0), category="shoes")
    socks = [
        catalog.product(visual=axis(0, tilt=0.1 * (i + 1), towards=1), semantic=axis(0), category="socks")
        for i in range(3)
    ]
    bags = [
        catalog.product(
            visual=axis(0, tilt=1 + 0.2 * i, towards=2), semantic=axis(0, tilt=1, towards=2), category="bags"
        )
        for i in range(5)
    ]
    Product.objects.filter(pk=bags[3].pk).update(brand="Acme")
    if lists:
        settings.RECOMMENDER_PAGE_WINDOW = 4  # so that the stored lists can fill a window
        for encoder in active_encoders():
            neighbour_lists_rebuild(encoder=encoder)
    rule(
        name="No socks by shoes",
        kind=RuleKind.EXCLUDE_CATEGORY_FROM_SIMILAR,
        source_category=catalog.categories["shoes"],
        excluded_category=catalog.categories["socks"],
    )

    # When a shopper asks for four like the shoes
    response = similar(client, source, limit="4")

    # Then four bags come back, no socks, and the diagnostics name the rule; socks themselves still see shoes
    assert ids(response) == [bag.pk for bag in bags[:4]]
    diagnostics = response.json()["diagnostics"]
    assert "category_rules" in diagnostics["excluded"]
    assert diagnostics["strategy"] == ("neighbours" if lists else "exact")
    assert source.pk in ids(similar(client, socks[0]))
    # And a boost reorders on either path
    boosted = similar(client, source, limit="4", boost="brand:Acme:0.5")
    assert ids(boosted) == [bags[3].pk, *(bag.pk for bag in bags[:3])]
    assert boosted.json()["diagnostics"]["strategy"] == diagnostics["strategy"]
    # And a pin does not bring back what a rule keeps out
    pinned = similar(client, source, limit="4", pin=f"{socks[0].pk}:1")
    assert socks[0].pk not in ids(pinned) and pinned.json()["diagnostics"]["pins_unplaced"] == [socks[0].pk]


def test_rules_cost_no_statement_of_their_own_on_a_warm_product_page(client: Client, catalog: Catalog) -> None:
    # Given what a warm product page costs without any rule
    source, rungs = ladder(catalog)
    similar(client, source)
    with CaptureQueriesContext(connection) as plain:
        similar(client, source)
    # And a store rule, read once by this process
    rule(name="Sold out last", kind=RuleKind.BURY_OUT_OF_STOCK, amount=-0.5)
    similar(client, source)

    # When the page asks with a boost and a pin as well
    with CaptureQueriesContext(connection) as captured:
        response = similar(client, source, boost="brand:Acme:0.1", pin=f"{rungs[3].pk}:1")

    # Then it costs the same statements: the rules travel inside the ranking statement
    assert response.status_code == 200 and ids(response)[0] == rungs[3].pk
    statements = [q["sql"] for q in captured.captured_queries]
    assert len(statements) == len(plain.captured_queries), statements
    assert not any("merchandising" in sql for sql in statements)


def test_with_rules_the_live_statement_still_reads_the_hnsw_index_of_both_spaces(
    client: Client, listed: list[Product]
) -> None:
    # Given a category exclusion rule, and no stored lists: the live path answers
    ProductNeighbours.objects.all().delete()
    rare = Category.objects.get(slug="rare")
    rule(
        name="Nothing else by rare",
        kind=RuleKind.EXCLUDE_CATEGORY_FROM_SIMILAR,
        source_category=rare,
        excluded_category=Category.objects.create(slug="other", name="Other"),
    )
    rule(name="Sold out last", kind=RuleKind.BURY_OUT_OF_STOCK, amount=-0.5)

    # When a page asks with a boost and a pin as well
    with CaptureQueriesContext(connection) as captured:
        body = similar(client, listed[6], limit="10", boost="brand:Acme:0.1", pin=f"{listed[0].pk}:1").json()
    assert body["diagnostics"]["strategy"] == "hnsw" and body["results"][0]["id"] == listed[0].pk
    [statement] = [q["sql"] for q in captured.captured_queries if "knn_settings" in q["sql"]]

    # Then the statement's shape still lets both spaces' HNSW indexes serve it
    assert_both_hnsw_indexes_serve(statement)
