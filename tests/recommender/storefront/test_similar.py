from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from embeddings.neighbours import neighbour_lists_rebuild
from embeddings.selectors import active_encoders
from recommender.duplicates.models import DuplicatePair
from recommender.storefront.models import RecommendationLog
from tests.recommender.storefront.conftest import SEMANTIC, VISUAL, Catalog, axis, ids, pair_as_duplicates

pytestmark = pytest.mark.django_db


def url(product_id: int) -> str:
    return f"/api/v1/products/{product_id}/similar/"


def test_it_returns_neighbours_best_first_with_scores_diagnostics_and_a_logged_recommendation_id(
    client: Client, catalog: Catalog
) -> None:
    # Given a source and three products at growing distances in both spaces
    source = catalog.product(visual=axis(0), semantic=axis(0), title="Red dress", category="dresses")
    near = catalog.product(visual=axis(0, tilt=0.5, towards=1), semantic=axis(0, tilt=0.5, towards=1))
    middle = catalog.product(visual=axis(0, tilt=1.0, towards=1), semantic=axis(0, tilt=1.0, towards=1))
    far = catalog.product(visual=axis(0, tilt=3.0, towards=1), semantic=axis(0, tilt=3.0, towards=1))

    # When a shopper asks for more like it
    response = client.get(url(source.id))

    # Then they come back best first, each with its scores, and the response explains itself
    assert response.status_code == 200
    body = response.json()
    assert ids(response) == [near.id, middle.id, far.id]
    first = body["results"][0]
    assert first["sku"] == near.sku and first["price"] == "10.00" and first["currency"] == "EUR"
    assert first["in_stock"] is True and first["thumbnail"] is None
    assert first["scores"]["visual"] == pytest.approx(0.8944, abs=1e-3)
    assert first["scores"]["semantic"] == pytest.approx(0.8944, abs=1e-3)
    assert first["scores"]["combined"] == pytest.approx(0.8944, abs=1e-3)
    assert first["scores"]["text"] is None
    assert body["count"] == 3 and body["next_offset"] is None
    diagnostics = body["diagnostics"]
    assert diagnostics["strategy"] == "exact"  # 3 rows: the HNSW path came up short and was re-run exactly
    assert diagnostics["encoders"] == {"visual": VISUAL, "semantic": SEMANTIC}
    assert diagnostics["filters_applied"] == {}
    assert diagnostics["candidates_examined"] >= 3
    log = RecommendationLog.objects.get(pk=body["recommendation_id"])
    assert log.endpoint == "similar" and log.source_product_id == source.id
    assert log.product_ids == [near.id, middle.id, far.id]


def test_it_leaves_out_the_product_itself_its_variants_and_inactive_products(client: Client, catalog: Catalog) -> None:
    source = catalog.product(visual=axis(0), semantic=axis(0), product_group="dress-42")
    variant = catalog.product(visual=axis(0, tilt=0.4, towards=1), semantic=axis(0), product_group="dress-42")
    inactive = catalog.product(visual=axis(0, tilt=0.4, towards=2), semantic=axis(0), is_active=False)
    other = catalog.product(visual=axis(0, tilt=0.6, towards=3), semantic=axis(0), product_group="skirt-7")

    response = client.get(url(source.id))

    assert ids(response) == [other.id]
    assert variant.id not in ids(response) and inactive.id not in ids(response)


def test_it_leaves_out_relisted_duplicates_above_the_similarity_ceiling_unless_asked(
    client: Client, catalog: Catalog
) -> None:
    # Given a re-listed copy of the source (visual similarity 0.995) and a genuinely similar product
    source = catalog.product(visual=axis(0), semantic=axis(0))
    copy = catalog.product(visual=axis(0, tilt=0.1, towards=1), semantic=axis(0))
    similar = catalog.product(visual=axis(0, tilt=0.5, towards=1), semantic=axis(0, tilt=0.5, towards=2))

    # Then the copy is left out by default, and comes back when the ceiling is raised to 1
    assert ids(client.get(url(source.id))) == [similar.id]
    assert ids(client.get(url(source.id), {"max_similarity": "1"})) == [copy.id, similar.id]


def test_it_leaves_out_every_product_the_duplicate_detector_paired_with_the_source(
    client: Client, catalog: Catalog
) -> None:
    # Given an edited re-listing far below the similarity ceiling (0.8), and two genuinely similar products
    source = catalog.product(visual=axis(0), semantic=axis(0))
    relisted = catalog.product(visual=axis(0, tilt=0.75, towards=1), semantic=axis(0))
    similar = catalog.product(visual=axis(0, tilt=0.9, towards=2), semantic=axis(0, tilt=0.5, towards=2))
    other = catalog.product(visual=axis(0, tilt=1.2, towards=3), semantic=axis(0, tilt=0.5, towards=3))
    assert ids(client.get(url(source.id))) == [relisted.id, similar.id, other.id]

    # When the detector pairs it with the source
    pair_as_duplicates(source, relisted)

    # Then it leaves the source's list at once (and the source leaves its list), and diagnostics say why
    response = client.get(url(source.id))
    assert ids(response) == [similar.id, other.id]
    assert response.json()["diagnostics"]["excluded"] == [
        "products",
        "variants",
        "duplicate_pairs",
        "same_title_brand",
        "max_similarity",
    ]
    assert source.id not in ids(client.get(url(relisted.id)))
    # And a merchandiser's "not a duplicate" (which deletes the pair) brings it back
    DuplicatePair.objects.all().delete()
    assert ids(client.get(url(source.id))) == [relisted.id, similar.id, other.id]


def test_modes_and_weights_decide_which_space_ranks(client: Client, catalog: Catalog) -> None:
    # Given one product that looks alike and another that means alike
    source = catalog.product(visual=axis(0), semantic=axis(0))
    looks = catalog.product(visual=axis(0, tilt=0.4, towards=1), semantic=axis(0, tilt=2.0, towards=1))
    means = catalog.product(visual=axis(0, tilt=2.0, towards=2), semantic=axis(0, tilt=0.4, towards=2))

    assert ids(client.get(url(source.id), {"mode": "visual"})) == [looks.id, means.id]
    assert ids(client.get(url(source.id), {"mode": "semantic"})) == [means.id, looks.id]
    assert ids(client.get(url(source.id), {"visual_weight": "0.9", "semantic_weight": "0.1"})) == [looks.id, means.id]
    weighted = client.get(url(source.id), {"visual_weight": "0.1", "semantic_weight": "0.9"}).json()
    assert [r["id"] for r in weighted["results"]] == [means.id, looks.id]
    assert weighted["diagnostics"]["weights"] == {"visual": 0.1, "semantic": 0.9}
    first = weighted["results"][0]["scores"]
    assert first["combined"] == pytest.approx(0.1 * first["visual"] + 0.9 * first["semantic"], abs=1e-5)


def test_filters_narrow_the_results(client: Client, catalog: Catalog) -> None:
    source = catalog.product(visual=axis(0), semantic=axis(0))
    dress = catalog.product(
        visual=axis(0, tilt=0.5, towards=1),
        semantic=axis(0),
        category="dresses",
        brand="Sunny",
        price=Decimal("30"),
        stock=0,
        attributes={"color": "red", "size": 38},
    )
    shoe = catalog.product(
        visual=axis(0, tilt=0.6, towards=1),
        semantic=axis(0),
        category="shoes",
        brand="Stride",
        price=Decimal("80"),
        stock=3,
        attributes={"color": "blue", "size": 42},
    )

    def found(**params: str) -> list[int]:
        response = client.get(url(source.id), params)
        assert response.status_code == 200, response.json()
        return ids(response)

    assert found(category="dresses") == [dress.id]
    assert found(brand="Stride") == [shoe.id]
    assert found(min_price="50") == [shoe.id]
    assert found(max_price="50") == [dress.id]
    assert found(in_stock="true") == [shoe.id]
    assert found(in_stock="false") == [dress.id]
    assert found(**{"attr.color": "red"}) == [dress.id]
    assert found(**{"attr.size": "42"}) == [shoe.id]  # a JSON number matches its spelling in the URL
    assert found(**{"attr.color": "red", "category": "shoes"}) == []
    applied = client.get(url(source.id), {"category": "dresses", "attr.color": "red", "in_stock": "false"})
    assert applied.json()["diagnostics"]["filters_applied"] == {
        "category": "dresses",
        "in_stock": False,
        "attr.color": "red",
    }


def test_diversity_trades_relevance_for_variety(client: Client, catalog: Catalog) -> None:
    # Given three near-identical neighbours on one side and a distinct one a little further away
    source = catalog.product(visual=axis(0), semantic=axis(0))
    cluster = [
        catalog.product(
            visual=axis(0, tilt=0.40 + i / 100, towards=1), semantic=axis(0, tilt=0.40 + i / 100, towards=1)
        )
        for i in range(3)
    ]
    distinct = catalog.product(visual=axis(0, tilt=0.6, towards=2), semantic=axis(0, tilt=0.6, towards=2))

    plain = ids(client.get(url(source.id), {"limit": "2"}))
    varied = ids(client.get(url(source.id), {"limit": "2", "diversity": "0.7"}))

    assert plain == [cluster[0].id, cluster[1].id]
    assert varied == [cluster[0].id, distinct.id]


def test_an_unknown_product_is_a_404_in_the_error_envelope(client: Client, catalog: Catalog) -> None:
    response = client.get(url(999_999))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert set(response.json()["error"]) == {"code", "message", "details"}


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"limit": "101"}, "limit"),
        ({"limit": "zero"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"mode": "smell"}, "mode"),
        ({"max_similarity": "1.5"}, "max_similarity"),
        ({"diversity": "2"}, "diversity"),
        ({"min_price": "cheap"}, "min_price"),
        ({"min_price": "50", "max_price": "10"}, "max_price"),
        ({"in_stock": "maybe"}, "in_stock"),
        ({"category": "no-such-category"}, "category"),
        ({"attr.bad name": "x"}, "attr.bad name"),
        ({"visual_weight": "0", "semantic_weight": "0"}, "visual_weight"),
        ({"offset": "470", "limit": "20"}, "offset"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(
    client: Client, catalog: Catalog, params: dict[str, str], named: str
) -> None:
    source = catalog.product(visual=axis(0), semantic=axis(0))

    response = client.get(url(source.id), params)

    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(named), response.json()


def test_a_product_without_vectors_yet_gets_an_empty_explained_list(client: Client, catalog: Catalog) -> None:
    source = catalog.product()
    catalog.product(visual=axis(0), semantic=axis(0))

    body = client.get(url(source.id)).json()

    assert body["results"] == []
    assert body["diagnostics"]["strategy"] == "none"
    assert "not embedded" in body["diagnostics"]["reason"]


def test_it_uses_a_bounded_number_of_queries_whatever_the_page_size(
    client: Client, catalog: Catalog, django_assert_max_num_queries
) -> None:
    source = catalog.product(visual=axis(0), semantic=axis(0))
    for i in range(30):
        catalog.product(visual=axis(0, tilt=0.3 + i / 10, towards=1 + i % 7), semantic=axis(i % 8), category="bags")

    # encoders, source, source vectors, category, plan (EXPLAIN, reltuples, count), BEGIN/SET/k-NN/COMMIT
    # (+ the exact re-run), products, photos, log (BEGIN/SET/INSERT/COMMIT)
    with django_assert_max_num_queries(22):
        response = client.get(url(source.id), {"limit": "25", "category": "bags", "diversity": "0.3"})
    assert response.json()["count"] == 25


def test_it_leaves_out_products_with_the_sources_title_and_brand_unless_the_shop_turns_it_off(
    client: Client, catalog: Catalog, settings: SettingsWrapper
) -> None:
    # Given a re-listing that kept the title and brand (case and spacing changed) but whose photo
    # was edited far below the ceiling, an unpaired one, and products that share only the title or the brand
    source = catalog.product(visual=axis(0), semantic=axis(0), title="Red  wool coat", brand="Acme")
    relisted = catalog.product(
        visual=axis(0, tilt=0.4, towards=1), semantic=axis(0), title="red wool Coat ", brand="ACME"
    )
    same_title = catalog.product(
        visual=axis(0, tilt=0.6, towards=2), semantic=axis(0), title="Red wool coat", brand="Kite"
    )
    same_brand = catalog.product(visual=axis(0, tilt=0.8, towards=3), semantic=axis(0), title="Blue coat", brand="Acme")

    # Then the re-listing never shows, from the live path or the stored lists, and diagnostics name the rule
    response = client.get(url(source.id))
    assert ids(response) == [same_title.id, same_brand.id]
    assert "same_title_brand" in response.json()["diagnostics"]["excluded"]
    settings.RECOMMENDER_PAGE_WINDOW = 2  # two stored neighbours fill the window: served from the lists
    for encoder in active_encoders():
        neighbour_lists_rebuild(encoder=encoder)
    response = client.get(url(source.id), {"limit": 2})
    assert response.json()["diagnostics"]["strategy"] == "neighbours"
    assert ids(response) == [same_title.id, same_brand.id]

    # And a shop whose titles are generic turns it off
    settings.SIMILAR_EXCLUDE_SAME_LISTING = False
    response = client.get(url(source.id))
    assert ids(response) == [relisted.id, same_title.id, same_brand.id]
    assert "same_title_brand" not in response.json()["diagnostics"]["excluded"]


def test_hybrid_blends_by_the_profiles_measured_weight_unless_the_request_names_one(
    client: Client, catalog: Catalog, settings: SettingsWrapper
) -> None:
    # Given one product close in the visual space only, and one close in the semantic space only
    source = catalog.product(visual=axis(0), semantic=axis(0))
    looks_alike = catalog.product(visual=axis(0, tilt=0.3, towards=1), semantic=axis(0, tilt=3.0, towards=1))
    reads_alike = catalog.product(visual=axis(0, tilt=3.0, towards=2), semantic=axis(0, tilt=0.3, towards=2))

    # When the profile's default leans on the semantic space (lite: 0.3 visual), the semantic neighbour leads
    settings.SIMILAR_VISUAL_WEIGHT = 0.3
    response = client.get(url(source.id))
    assert ids(response) == [reads_alike.id, looks_alike.id]
    assert response.json()["diagnostics"]["weights"] == {"visual": 0.3, "semantic": 0.7}

    # And a request that names its weights gets them
    response = client.get(url(source.id), {"visual_weight": "0.8", "semantic_weight": "0.2"})
    assert ids(response) == [looks_alike.id, reads_alike.id]
    assert response.json()["diagnostics"]["weights"] == {"visual": 0.8, "semantic": 0.2}
