"""/similar/ from the stored neighbour lists: the same answers as the live path, in at most two statements."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from django.db import connection, transaction
from django.db.models import Q
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import Settings as SettingsWrapper

from catalog.models import Category, Product
from config.after_response import deferred, run_tasks
from embeddings.models import ProductNeighbours, ProductVector
from embeddings.neighbours import neighbour_lists_rebuild
from embeddings.selectors import active_encoders
from embeddings.vector_indexes import VECTOR_TABLES, index_name
from recommender.storefront.api.serializers import RankedListSerializer
from recommender.storefront.models import RecommendationLog
from tests.recommender.storefront.conftest import DIM, SEMANTIC, VISUAL, Catalog, analyze, pair_as_duplicates

pytestmark = pytest.mark.django_db

N_PRODUCTS = 120
LIST_SIZE = 40
WINDOW = 12


@pytest.fixture
def listed(catalog: Catalog, settings: SettingsWrapper) -> list[Product]:
    """120 products with random vectors in both spaces, every 10th in category 'rare', lists of 40 built."""
    settings.RECOMMENDER_NEIGHBOURS = LIST_SIZE
    settings.RECOMMENDER_PAGE_WINDOW = WINDOW
    rng = np.random.default_rng(21)
    rare = Category.objects.create(slug="rare", name="Rare")
    products = []
    for i in range(N_PRODUCTS):
        visual, semantic = rng.normal(size=DIM), rng.normal(size=DIM)
        products.append(
            catalog.product(
                visual=(visual / np.linalg.norm(visual)).tolist(),
                semantic=(semantic / np.linalg.norm(semantic)).tolist(),
                stock=i % 2,
                category=None,
            )
        )
        if i % 10 == 0:
            Product.objects.filter(pk=products[-1].pk).update(category=rare)
    for encoder in active_encoders():
        neighbour_lists_rebuild(encoder=encoder)
    analyze()
    return products


def exact(source: Product, *, mode: str = "hybrid", keep: Q | None = None) -> list[int]:
    """Brute force in numpy: the products most like `source`, best first (ties by id), as the API defines it."""
    vectors: dict[tuple[int, str], np.ndarray] = {
        (v.product_id, v.space): np.asarray(v.embedding, dtype=np.float64) for v in ProductVector.objects.all()
    }
    weights = {"hybrid": (0.5, 0.5), "visual": (1.0, 0.0), "semantic": (0.0, 1.0)}[mode]
    candidates = Product.objects.filter(is_active=True).exclude(pk=source.pk)
    if keep is not None:
        candidates = candidates.filter(keep)

    def score(pid: int) -> float:
        return sum(
            w * float(vectors[(source.pk, s)] @ vectors[(pid, s)])
            for w, s in zip(weights, ("visual", "semantic"), strict=True)
        ) / sum(weights)

    return sorted(candidates.values_list("pk", flat=True), key=lambda pid: (-score(pid), pid))


def similar(client: Client, source: Product, **params: Any) -> dict[str, Any]:
    response = client.get(f"/api/v1/products/{source.pk}/similar/", {"max_similarity": "1", **params})
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def live(client: Client, source: Product, **params: Any) -> dict[str, Any]:
    """The same request answered without any stored list (they are back afterwards)."""
    with transaction.atomic():
        ProductNeighbours.objects.all().delete()
        body = similar(client, source, **params)
        transaction.set_rollback(True)
    assert body["diagnostics"]["strategy"] != "neighbours"
    return body


@pytest.mark.parametrize("mode", ["hybrid", "visual", "semantic"])
def test_the_lists_answer_as_the_live_ranking_does(client: Client, listed: list[Product], mode: str) -> None:
    source = listed[3]
    body = similar(client, source, limit=10, mode=mode)

    assert body["diagnostics"]["strategy"] == "neighbours", body["diagnostics"]
    assert body["results"] == live(client, source, limit=10, mode=mode)["results"], "ids, order and scores"
    if mode != "hybrid":
        # One space: the top 10 of that space, exactly (hybrid blends the two spaces' candidate pools).
        assert ids_of(body) == exact(source, mode=mode)[:10]


def test_deactivated_and_deleted_products_never_come_from_a_list(client: Client, listed: list[Product]) -> None:
    source = listed[5]
    first, second, *_ = exact(source)
    Product.objects.filter(pk=first).update(is_active=False)
    Product.objects.filter(pk=second).delete()  # its id stays in other products' lists until the next rebuild

    body = similar(client, source, limit=10)

    assert body["diagnostics"]["strategy"] == "neighbours"
    assert first not in ids_of(body) and second not in ids_of(body)
    assert ids_of(body) == ids_of(live(client, source, limit=10))


def test_a_relisting_found_after_the_lists_were_built_leaves_them_when_its_pair_is_written(
    client: Client, listed: list[Product]
) -> None:
    source = listed[7]
    before = similar(client, source, limit=10, mode="visual")  # one space: exactly its top 10
    assert before["diagnostics"]["strategy"] == "neighbours"
    first = ids_of(before)[0]

    pair_as_duplicates(source, Product.objects.get(pk=first))

    after = similar(client, source, limit=10, mode="visual")
    assert after["diagnostics"]["strategy"] == "neighbours", "the list still serves, less the copy"
    rest = [pid for pid in exact(source, mode="visual") if pid != first]
    assert first not in ids_of(after) and ids_of(after) == rest[:10]
    assert source.pk not in ids_of(similar(client, Product.objects.get(pk=first), limit=10))


def test_out_of_stock_products_are_served_from_a_list_only_when_asked_for(
    client: Client, listed: list[Product]
) -> None:
    source = listed[7]
    in_stock = similar(client, source, limit=10, in_stock="true")
    sold_out = similar(client, source, limit=10, in_stock="false")

    assert in_stock["diagnostics"]["strategy"] == sold_out["diagnostics"]["strategy"] == "neighbours"
    assert {r["in_stock"] for r in in_stock["results"]} == {True}
    assert {r["in_stock"] for r in sold_out["results"]} == {False}
    assert ids_of(in_stock) == ids_of(live(client, source, limit=10, in_stock="true"))


def test_a_filter_the_list_cannot_fill_falls_back_and_still_returns_limit(
    client: Client, listed: list[Product]
) -> None:
    # 12 rare products in all: a list of 40 holds about 4 of them, fewer than the window needs.
    source = listed[11]
    body = similar(client, source, limit=8, category="rare")

    assert body["count"] == 8
    assert body["diagnostics"]["strategy"] == "exact"
    assert ids_of(body) == exact(source, keep=_category("rare"))[:8]


def test_pages_stay_stable_when_later_windows_come_from_the_index(client: Client, listed: list[Product]) -> None:
    # Windows of 12: the first three fit in lists of 40, the fourth (48 per space) does not.
    source = listed[2]
    pages, offset, strategies = [], 0, set()
    while offset is not None and offset < 60:
        body = similar(client, source, limit=5, offset=offset)
        pages.append(ids_of(body))
        strategies.add(body["diagnostics"]["strategy"])
        offset = body["next_offset"]

    walked = [pid for page in pages for pid in page]
    assert strategies == {"neighbours", "hnsw"}
    assert len(walked) == len(set(walked)) == 60
    lived = [pid for offset in range(0, 60, 5) for pid in ids_of(live(client, source, limit=5, offset=offset))]
    assert walked == lived


def test_a_product_without_a_list_is_ranked_live(client: Client, listed: list[Product]) -> None:
    source = listed[9]
    ProductNeighbours.objects.filter(product=source).delete()

    body = similar(client, source, limit=10)

    assert body["diagnostics"]["strategy"] == "hnsw"
    assert ids_of(body) == ids_of(live(client, source, limit=10))


@pytest.mark.parametrize(
    ("params", "strategy"),
    [({}, "neighbours"), ({"in_stock": "true"}, "neighbours"), ({"category": "rare"}, "exact")],
    ids=["lists", "lists-filtered", "live-exact"],
)
def test_a_product_page_costs_at_most_two_statements_and_its_log_waits_for_the_response(
    client: Client, listed: list[Product], params: dict[str, str], strategy: str
) -> None:
    source = listed[4]
    similar(client, source, limit=10, **params)  # the process learns the encoders and the filter's selectivity
    logged = RecommendationLog.objects.count()

    with deferred() as after_response, CaptureQueriesContext(connection) as captured:
        body = similar(client, source, limit=10, **params)

    assert body["diagnostics"]["strategy"] == strategy
    statements = [q["sql"] for q in captured.captured_queries]
    assert len(statements) <= 2, statements
    assert RecommendationLog.objects.count() == logged, "the log is written after the response"
    run_tasks(after_response)
    log = RecommendationLog.objects.get(pk=body["recommendation_id"])
    assert log.product_ids == ids_of(body) and log.strategy == strategy


def test_the_live_statement_reads_the_hnsw_index_of_both_spaces(client: Client, listed: list[Product]) -> None:
    source = listed[6]
    ProductNeighbours.objects.all().delete()
    with CaptureQueriesContext(connection) as captured:
        body = similar(client, source, limit=10)
    assert body["diagnostics"]["strategy"] == "hnsw"
    [statement] = [q["sql"] for q in captured.captured_queries if "knn_settings" in q["sql"]]

    assert_both_hnsw_indexes_serve(statement)


def assert_both_hnsw_indexes_serve(statement: str) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        # 120 rows are cheaper to sort than to search a graph for: ask whether the statement's shape
        # lets the index serve it, as it does at catalogue sizes (test_guarantees: 2,000 rows, no hint).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {statement}")
        plan = "\n".join(row[0] for row in cursor.fetchall())

    for space, encoder in (("visual", VISUAL), ("semantic", SEMANTIC)):
        assert index_name(VECTOR_TABLES["product"], space, encoder) in plan, plan


def ids_of(body: dict[str, Any]) -> list[int]:
    return [result["id"] for result in body["results"]]


def _category(slug: str) -> Q:
    return Q(category__slug=slug)


@pytest.mark.parametrize("lists", [True, False], ids=["neighbours", "live"])
def test_the_response_is_what_the_documented_serializer_renders(
    client: Client, listed: list[Product], lists: bool
) -> None:
    # The view builds the body without running RankedListSerializer (its cost was the ranking's):
    # the serializer, which the OpenAPI document is made from, must render the very same thing.
    body = similar(client, listed[8], limit=10) if lists else live(client, listed[8], limit=10)
    assert body["count"] == 10
    assert RankedListSerializer(body).data == body
