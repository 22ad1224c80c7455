"""The popularity prior of /recommendations/: popular products move up, by an amount the scores show.

Ground truth is computed here from the stored popularity rows (decay.current_score) and the
prior's definition, w * s / (s + POPULARITY_PRIOR_HALF_SCORE), on top of the combined scores
the same request returns without the prior.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from catalog.models import Product
from recommender.feedback import decay
from recommender.feedback.models import ProductPopularity
from recommender.feedback.selectors.popularity import popularity_scores, popularity_sql
from recommender.feedback.services import EventInput, feedback_events_record, popularity_update
from recommender.storefront.selectors.prior import POPULARITY_PRIOR_HALF_SCORE
from tests.recommender.storefront.conftest import Catalog, axis, ids

pytestmark = pytest.mark.django_db

URL = "/api/v1/recommendations/"
POPULARITY_TABLE = ProductPopularity._meta.db_table


def post(client: Client, body: dict[str, Any]) -> Any:
    return client.post(URL, body, content_type="application/json")


def ladder(catalog: Catalog, count: int) -> tuple[Product, list[Product]]:
    """A source and `count` products ever farther from it (in both spaces), nearest first."""
    source = catalog.product(visual=axis(0), semantic=axis(0))
    tilts = [0.3 * (i + 1) for i in range(count)]
    return source, [
        catalog.product(visual=axis(0, tilt=t, towards=1), semantic=axis(0, tilt=t, towards=1)) for t in tilts
    ]


def bought(product: Product, *, purchases: int = 0, clicks: int = 0) -> None:
    """Shoppers' purchases and clicks of `product`, counted into popularity as the beat task counts them."""
    events = [EventInput("purchase", product.pk, f"buyer-{i}") for i in range(purchases)]
    events += [EventInput("click", product.pk, f"clicker-{i}") for i in range(clicks)]
    feedback_events_record(events=events, now=timezone.now())
    popularity_update(half_life_hours=settings.FEEDBACK_POPULARITY_HALF_LIFE_HOURS, batch_size=100, max_batches=10)


def expected_prior(product: Product, weight: float) -> float:
    """weight * s / (s + half) for the product's stored row as of now; 0 without a row."""
    row = ProductPopularity.objects.filter(pk=product.pk).first()
    if row is None:
        return 0.0
    score = decay.current_score(
        row.log_score, now=timezone.now(), half_life_hours=settings.FEEDBACK_POPULARITY_HALF_LIFE_HOURS
    )
    return weight * score / (score + POPULARITY_PRIOR_HALF_SCORE)


def scores_by_id(response: Any) -> dict[int, dict[str, Any]]:
    return {result["id"]: result["scores"] for result in response.json()["results"]}


def test_a_weight_of_zero_changes_nothing(client: Client, catalog: Catalog) -> None:
    # Given a history and a popular product among its candidates
    source, rungs = ladder(catalog, 4)
    bought(rungs[3], purchases=3)
    body = {"liked": [source.pk], "diversity": 0}

    # When the prior is sent as 0, and not sent at all
    plain, zero = post(client, body), post(client, {**body, "popularity_weight": 0})

    # Then both are the same list with the same scores, and neither says a prior applied
    assert plain.status_code == zero.status_code == 200, zero.content
    assert ids(zero) == ids(plain) == [p.pk for p in rungs]
    assert scores_by_id(zero) == scores_by_id(plain)
    assert all(s["popularity"] is None for s in scores_by_id(zero).values())
    assert "popularity_weight" not in zero.json()["diagnostics"]


def test_a_popular_product_moves_up_by_weight_times_its_prior(client: Client, catalog: Catalog) -> None:
    # Given four products ever farther from the history; the farthest bought three times, the second clicked once
    source, rungs = ladder(catalog, 4)
    bought(rungs[3], purchases=3)
    bought(rungs[1], clicks=1)
    body = {"liked": [source.pk], "diversity": 0}
    plain = scores_by_id(post(client, body))
    weight = 0.4

    # When the storefront asks for the prior
    response = post(client, {**body, "popularity_weight": weight})

    # Then each result's combined score is its own plus weight * prior of its row (0 without one) ...
    assert response.status_code == 200, response.content
    scored = scores_by_id(response)
    for product in rungs:
        added = expected_prior(product, weight)
        assert scored[product.pk]["popularity"] == pytest.approx(added, abs=1e-5)
        assert scored[product.pk]["combined"] == pytest.approx(plain[product.pk]["combined"] + added, abs=1e-5)
    assert scored[rungs[0].pk]["popularity"] == 0 and scored[rungs[2].pk]["popularity"] == 0
    assert 0 < scored[rungs[3].pk]["popularity"] < weight
    # ... the list is in that order, the bought product moved from last to second ...
    expected = sorted(rungs, key=lambda p: (-(plain[p.pk]["combined"] + expected_prior(p, weight)), p.pk))
    assert ids(response) == [p.pk for p in expected] == [rungs[0].pk, rungs[3].pk, rungs[1].pk, rungs[2].pk]
    # ... and diagnostics say the prior applied
    assert response.json()["diagnostics"]["popularity_weight"] == weight


def test_the_prior_adds_no_statement_it_is_a_column_of_the_ranking_statement(client: Client, catalog: Catalog) -> None:
    source, rungs = ladder(catalog, 4)
    bought(rungs[3], purchases=1)
    body = {"liked": [source.pk], "diversity": 0}
    post(client, body)  # warms the per-process caches (encoders, store rules) that both requests would share

    with CaptureQueriesContext(connection) as off:
        assert post(client, body).status_code == 200
    with CaptureQueriesContext(connection) as on:
        assert post(client, {**body, "popularity_weight": 0.3}).status_code == 200

    assert len(on.captured_queries) == len(off.captured_queries)
    assert not any(POPULARITY_TABLE in q["sql"] for q in off.captured_queries)
    ranking = [q["sql"] for q in on.captured_queries if POPULARITY_TABLE in q["sql"]]
    assert len(ranking) == 1 and "knn_settings" in ranking[0]


def test_pages_are_still_full_and_stable_with_the_prior(
    client: Client, catalog: Catalog, settings: SettingsWrapper
) -> None:
    # Given 24 candidates, every third one popular, and windows of 10 (so pages cross windows)
    settings.RECOMMENDER_PAGE_WINDOW = 10
    source, rungs = ladder(catalog, 24)
    for rung in rungs[2::3]:
        bought(rung, purchases=2)
    body = {"liked": [source.pk], "diversity": 0, "popularity_weight": 0.5}

    # When the list is read whole, and in pages of 8
    whole = post(client, {**body, "limit": 24})
    pages = [post(client, {**body, "limit": 8, "offset": offset}) for offset in (0, 8, 16)]

    # Then every page has exactly `limit` results, and the pages are the whole list cut in three
    assert whole.json()["count"] == 24
    assert [page.json()["count"] for page in pages] == [8, 8, 8]
    assert [pid for page in pages for pid in ids(page)] == ids(whole)
    assert ids(whole) != [p.pk for p in rungs]  # the prior did reorder them


def test_the_starter_set_ignores_the_prior(client: Client, catalog: Catalog) -> None:
    # It is ranked with popularity already (starter.py): no history and no words, no prior on top.
    _, rungs = ladder(catalog, 4)
    bought(rungs[2], purchases=1)

    response = post(client, {"popularity_weight": 0.5})

    assert response.status_code == 200, response.content
    assert response.json()["diagnostics"]["strategy"] == "starter_clusters"
    assert "popularity_weight" not in response.json()["diagnostics"]
    assert all(s["popularity"] is None for s in scores_by_id(response).values())


@pytest.mark.parametrize("value", [2, -0.1, "abc", True, None, "nan"])
def test_a_bad_popularity_weight_is_a_400_naming_it(client: Client, catalog: Catalog, value: Any) -> None:
    source, _ = ladder(catalog, 1)

    response = post(client, {"liked": [source.pk], "popularity_weight": value})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and error["message"].startswith("popularity_weight"), error


def test_the_statement_reads_the_same_popularity_as_the_selector(catalog: Catalog) -> None:
    # Given a fresh purchase, a click one half-life old, a row decayed past exp()'s range, and no row at all
    now = timezone.now()
    half_life = settings.FEEDBACK_POPULARITY_HALF_LIFE_HOURS
    fresh, older, ancient, none = (catalog.product() for _ in range(4))
    rows = {
        fresh: decay.log_term(weight=5.0, at=now, half_life_hours=half_life),
        older: decay.log_term(weight=1.0, at=now - timedelta(hours=half_life), half_life_hours=half_life),
        ancient: decay.log_unit(now, half_life_hours=half_life) - 800.0,
    }
    ProductPopularity.objects.bulk_create(ProductPopularity(product=p, log_score=s) for p, s in rows.items())

    # When the SQL expression is read for each, beside what popularity_scores() computes in Python
    sql, params = popularity_sql("p.id", now=now)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT p.id, {sql} FROM catalog_product p WHERE p.id = ANY(%s)",
            [*params, [p.pk for p in (fresh, older, ancient, none)]],
        )
        in_sql = dict(cursor.fetchall())

    # Then they agree, and both are 0 where nothing (or nothing representable) is left
    in_python = popularity_scores([fresh.pk, older.pk, ancient.pk, none.pk], now=now)
    assert in_sql[fresh.pk] == pytest.approx(5.0, rel=1e-9) == in_python[fresh.pk]
    assert in_sql[older.pk] == pytest.approx(0.5, rel=1e-9) and in_sql[older.pk] == pytest.approx(
        in_python[older.pk], rel=1e-12
    )
    assert in_sql[ancient.pk] == 0.0 == in_python[ancient.pk]
    assert in_sql[none.pk] == 0.0 and none.pk not in in_python
