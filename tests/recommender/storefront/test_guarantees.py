"""The k = limit guarantee under selective filters, the index really used, and stable pages."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import numpy as np
import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import Settings as SettingsWrapper

from catalog.models import Category, Product
from embeddings.models import ProductVector
from embeddings.services import space_encoder_register
from embeddings.vector_indexes import VECTOR_TABLES, index_kinds, index_name, kind_index_name
from tests.recommender.storefront.conftest import DIM, SEMANTIC, VISUAL, Catalog, analyze, axis, ids

pytestmark = pytest.mark.django_db

N_PRODUCTS = 2000
RARE_EVERY = 100  # 1% of the catalogue is in the rare category


def clustered(rng: np.random.Generator, n: int, clusters: int = 20) -> np.ndarray:
    centres = rng.normal(size=(clusters, DIM))
    vectors = centres[rng.integers(0, clusters, size=n)] + 0.3 * rng.normal(size=(n, DIM))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _big_catalog(visual_encoder: str, semantic_encoder: str) -> tuple[Product, list[Product]]:
    """2,000 products with clustered vectors; every 100th (20 in all) in category 'rare'."""
    rng = np.random.default_rng(7)
    common = Category.objects.create(slug="common", name="Common")
    rare = Category.objects.create(slug="rare", name="Rare")
    products = Product.objects.bulk_create(
        Product(
            sku=f"BIG-{i}",
            title=f"Big {i}",
            price=Decimal(i % 100),
            stock=i % 3,
            category=rare if i % RARE_EVERY == 0 else common,
        )
        for i in range(N_PRODUCTS)
    )
    visual, semantic = clustered(rng, N_PRODUCTS), clustered(rng, N_PRODUCTS)
    ProductVector.objects.bulk_create(
        [
            ProductVector(product=p, space="visual", encoder=visual_encoder, embedding=visual[i].tolist())
            for i, p in enumerate(products)
        ]
        + [
            ProductVector(product=p, space="semantic", encoder=semantic_encoder, embedding=semantic[i].tolist())
            for i, p in enumerate(products)
        ]
    )
    analyze()
    rare_products = [p for i, p in enumerate(products) if i % RARE_EVERY == 0]
    return products[1], rare_products


@pytest.fixture
def big_catalog(catalog: Catalog) -> tuple[Product, list[Product]]:
    return _big_catalog(VISUAL, SEMANTIC)


COMMITTED_ENCODERS = {"visual": "committed-visual@1", "semantic": "committed-semantic@1"}


@pytest.fixture
def committed_big_catalog(transactional_db: None) -> Iterator[tuple[Product, list[Product]]]:
    """big_catalog committed, for a transaction=True test, under encoders of its own.

    The flush after such a test empties the tables but keeps the HNSW indexes it made (and an
    index of another test's encoder of another dimension would refuse these vectors): its own
    identities meet no other test's indexes, and its indexes are dropped after it.
    """
    for space, identity in COMMITTED_ENCODERS.items():
        space_encoder_register(space=space, identity=identity, dim=DIM)
    yield _big_catalog(COMMITTED_ENCODERS["visual"], COMMITTED_ENCODERS["semantic"])
    with connection.cursor() as cursor:
        for space, identity in COMMITTED_ENCODERS.items():
            for kind in index_kinds(space):
                cursor.execute(
                    f"DROP INDEX IF EXISTS {connection.ops.quote_name(kind_index_name(kind, space, identity))}"
                )


def exact_top(source: Product, candidates: list[Product], k: int) -> list[int]:
    """Brute force: the hybrid (0.5/0.5) top k among `candidates`, computed in numpy."""
    vectors = {
        (v.product_id, v.space): np.asarray(v.embedding, dtype=np.float64)
        for v in ProductVector.objects.filter(product__in=[source, *candidates])
    }

    def score(p: Product) -> float:
        return 0.5 * sum(float(vectors[(source.id, s)] @ vectors[(p.id, s)]) for s in ("visual", "semantic"))

    return sorted((p.id for p in candidates), key=lambda pid: -score(next(c for c in candidates if c.id == pid)))[:k]


@pytest.mark.parametrize(
    ("overrides", "expected_strategy"),
    [
        ({}, "exact"),
        # A window of 12 so that 20 matches can fill it without the exact re-run.
        (
            {"RECOMMENDER_EXACT_MAX_ROWS": 0, "RECOMMENDER_EXACT_COST_RATIO": 0, "RECOMMENDER_PAGE_WINDOW": 12},
            "hnsw_iterative",
        ),
        (
            {
                "RECOMMENDER_EXACT_MAX_ROWS": 0,
                "RECOMMENDER_EXACT_COST_RATIO": 0,
                "RECOMMENDER_BROAD_FRACTION": 0.001,
                "RECOMMENDER_PAGE_WINDOW": 12,
            },
            "hnsw",
        ),
    ],
    ids=["planned", "iterative-forced", "plain-hnsw-forced"],
)
def test_a_one_percent_filter_still_returns_limit_results_on_every_path(
    client: Client,
    settings: SettingsWrapper,
    big_catalog: tuple[Product, list[Product]],
    overrides: dict[str, float],
    expected_strategy: str,
) -> None:
    # Given 2,000 products of which 20 (1%) match the filter, and whichever path the planner is pushed to
    for name, value in overrides.items():
        setattr(settings, name, value)
    source, rare = big_catalog

    # When a shopper asks for 12 similar products in that category
    response = client.get(
        f"/api/v1/products/{source.id}/similar/", {"category": "rare", "limit": "12", "max_similarity": "1"}
    )

    # Then exactly 12 come back, all in the category, and they are the true top 12
    body = response.json()
    assert body["count"] == 12
    assert {r["category"] for r in body["results"]} == {"rare"}
    assert ids(response) == exact_top(source, rare, 12)
    assert body["diagnostics"]["strategy"] == expected_strategy
    assert body["diagnostics"]["fallback"] is None


def test_when_the_index_path_comes_up_short_it_is_re_run_exactly(
    client: Client, big_catalog: tuple[Product, list[Product]]
) -> None:
    # Given a catalogue where only the 20 rare products are still active: no filter, yet 99% of the
    # graph's neighbours are dropped after the scan
    source, rare = big_catalog
    Product.objects.exclude(id__in=[p.id for p in rare]).update(is_active=False)

    response = client.get(f"/api/v1/products/{source.id}/similar/", {"limit": "12", "max_similarity": "1"})

    body = response.json()
    assert body["count"] == 12
    assert ids(response) == exact_top(source, rare, 12)
    assert body["diagnostics"]["strategy"] == "exact"
    assert body["diagnostics"]["fallback"].startswith("hnsw returned")


def test_the_unfiltered_query_is_served_by_the_hnsw_index(
    client: Client, big_catalog: tuple[Product, list[Product]]
) -> None:
    source, _ = big_catalog
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/api/v1/products/{source.id}/similar/", {"limit": "12"})
    assert response.json()["diagnostics"]["strategy"] == "hnsw"
    knn_sql = next(q["sql"] for q in captured.captured_queries if "WITH c AS MATERIALIZED" in q["sql"])

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {knn_sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())

    for space, encoder in (("visual", VISUAL), ("semantic", SEMANTIC)):
        assert index_name(VECTOR_TABLES["product"], space, encoder) in plan, plan


PREPARED_RANKINGS = (
    "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements "
    "WHERE statement LIKE 'WITH c AS MATERIALIZED%%'"
)


@pytest.mark.django_db(transaction=True)  # outside a transaction, as a served request runs
def test_the_unfiltered_ranking_is_prepared_once_and_its_generic_plan_walks_the_hnsw_index(
    client: Client, committed_big_catalog: tuple[Product, list[Product]]
) -> None:
    # Given a catalogue and three product pages (different products), unfiltered
    source, others = committed_big_catalog
    for product in (source, others[0], others[1]):
        response = client.get(f"/api/v1/products/{product.id}/similar/", {"limit": "12"})
        assert response.status_code == 200
        assert response.json()["count"] == 12
    # Then one statement was prepared on the connection, planned generically each time
    with connection.cursor() as cursor:
        cursor.execute(PREPARED_RANKINGS)
        prepared = cursor.fetchall()
        assert [(generic, custom) for _, generic, custom in prepared] == [(3, 0)]
        # And that one plan, made without any parameter's value, walks both spaces' HNSW indexes
        cursor.execute(f"EXPLAIN (GENERIC_PLAN) {prepared[0][0]}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    for space, encoder in COMMITTED_ENCODERS.items():
        assert index_name(VECTOR_TABLES["product"], space, encoder) in plan, plan


@pytest.mark.django_db(transaction=True)
def test_a_filter_with_a_value_is_planned_for_its_value_not_prepared(
    client: Client, committed_big_catalog: tuple[Product, list[Product]]
) -> None:
    source, _ = committed_big_catalog
    for category in ("common", "rare"):
        response = client.get(f"/api/v1/products/{source.id}/similar/", {"limit": "12", "category": category})
        assert response.json()["count"] == 12
    with connection.cursor() as cursor:
        cursor.execute(PREPARED_RANKINGS)
        assert cursor.fetchall() == []


def test_the_exact_path_does_not_touch_the_hnsw_index(
    client: Client, big_catalog: tuple[Product, list[Product]]
) -> None:
    source, _ = big_catalog
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/api/v1/products/{source.id}/similar/", {"limit": "12", "category": "rare"})
    assert response.json()["diagnostics"]["strategy"] == "exact"
    knn_sql = next(q["sql"] for q in captured.captured_queries if "WITH c AS MATERIALIZED" in q["sql"])

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {knn_sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "_hnsw_" not in plan, plan


def test_pages_are_stable_across_windows(client: Client, settings: SettingsWrapper, catalog: Catalog) -> None:
    # Given 49 neighbours and a ranking window of 10 (so pages straddle window boundaries)
    settings.RECOMMENDER_PAGE_WINDOW = 10
    rng = np.random.default_rng(3)
    source = catalog.product(visual=axis(0), semantic=axis(0))
    for _ in range(49):
        catalog.product(visual=rng.normal(size=DIM).tolist(), semantic=rng.normal(size=DIM).tolist())

    # When a shopper walks through pages of 7
    pages, offset = [], 0
    while offset is not None:
        body = client.get(f"/api/v1/products/{source.id}/similar/", {"limit": 7, "offset": offset}).json()
        pages.append([r["id"] for r in body["results"]])
        offset = body["next_offset"]

    # Then every product shows up exactly once, and asking again gives the same pages
    walked = [pid for page in pages for pid in page]
    assert len(walked) == len(set(walked)) == 49
    again = client.get(f"/api/v1/products/{source.id}/similar/", {"limit": 7, "offset": 21}).json()
    assert [r["id"] for r in again["results"]] == pages[3]
    assert len(pages) == 7
