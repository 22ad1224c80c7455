"""Popularity: every counted click and purchase once, decayed exactly, read back in order and filtered.

Ground truth is the definition itself, sum of w * 2 ** -(age / H), computed in numpy from
the events the test planted.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from catalog.models import Category, Product
from recommender.feedback import decay
from recommender.feedback.models import Event, PopularityState, ProductPopularity
from recommender.feedback.selectors.popularity import popular_products, popularity_scores
from recommender.feedback.services import (
    EventInput,
    feedback_events_record,
    feedback_prune,
    popularity_update,
)
from tests.recommender.feedback.conftest import product

pytestmark = pytest.mark.django_db

HALF_LIFE = 72.0


@pytest.fixture(autouse=True)
def half_life(settings: SettingsWrapper) -> None:
    settings.FEEDBACK_POPULARITY_HALF_LIFE_HOURS = HALF_LIFE


def record(event_type: str, target: Product, *, at: datetime, client: str = "c-1") -> None:
    feedback_events_record(events=[EventInput(event_type, target.pk, client)], now=at)


def update(half_life_hours: float = HALF_LIFE) -> int:
    return popularity_update(half_life_hours=half_life_hours, batch_size=7, max_batches=1000)


def expected(events: list[tuple[int, str, datetime]], now: datetime, half_life_hours: float) -> dict[int, float]:
    scores: dict[int, float] = {}
    for product_id, event_type, at in events:
        age = (now - at).total_seconds() / 3600.0
        scores[product_id] = scores.get(product_id, 0.0) + decay.WEIGHTS[event_type] * 2.0 ** (-age / half_life_hours)
    return scores


def test_a_fresh_click_scores_one_a_purchase_five_and_both_halve_every_half_life() -> None:
    now = timezone.now()
    clicked, bought = product(), product()
    record("click", clicked, at=now)
    record("purchase", bought, at=now - timedelta(hours=HALF_LIFE))
    record("view", clicked, at=now)  # views and carts are not popularity
    record("add_to_cart", clicked, at=now)

    assert update() == 2
    scores = popularity_scores([clicked.pk, bought.pk], now=now)

    assert scores[clicked.pk] == pytest.approx(1.0, rel=1e-6)
    assert scores[bought.pk] == pytest.approx(2.5, rel=1e-6)


def test_scores_equal_the_decayed_sum_of_many_events_over_weeks() -> None:
    rng = np.random.default_rng(7)
    now = timezone.now()
    products = [product() for _ in range(12)]
    planted = []
    for number in range(300):
        target = products[int(rng.integers(len(products)))]
        kind = "purchase" if rng.random() < 0.2 else "click"
        at = now - timedelta(hours=float(rng.uniform(0, 24 * 40)))
        # distinct clients: repeated (client, product, type) in one claim would count once
        record(kind, target, at=at, client=f"c-{number}")
        planted.append((target.pk, kind, at))

    counted = update()

    truth = expected(planted, now, HALF_LIFE)
    scores = popularity_scores([p.pk for p in products], now=now)
    assert counted == 300
    assert set(scores) == set(truth)
    for pk, score in scores.items():
        assert score == pytest.approx(truth[pk], rel=1e-9), pk
    assert [item.product_id for item in popular_products(limit=12, now=now)] == sorted(truth, key=lambda pk: -truth[pk])


def test_a_second_update_counts_nothing_again() -> None:
    now = timezone.now()
    target = product()
    record("click", target, at=now)
    update()
    before = popularity_scores([target.pk], now=now)

    assert update() == 0
    assert popularity_scores([target.pk], now=now) == before
    assert not Event.objects.filter(popularity_pending=True).exists()


def test_later_events_add_to_what_was_counted() -> None:
    now = timezone.now()
    target = product()
    record("click", target, at=now - timedelta(hours=2 * HALF_LIFE))
    update()
    record("click", target, at=now, client="c-2")
    update()

    assert popularity_scores([target.pk], now=now)[target.pk] == pytest.approx(1.25, rel=1e-9)


def test_a_double_click_counts_once_but_two_shoppers_count_twice() -> None:
    now = timezone.now()
    target, other = product(), product()
    for _ in range(3):
        record("click", target, at=now, client="same")
    record("click", other, at=now, client="one")
    record("click", other, at=now, client="two")

    update()

    scores = popularity_scores([target.pk, other.pk])
    assert scores[target.pk] == pytest.approx(1.0) and scores[other.pk] == pytest.approx(2.0)


def test_popular_products_are_filtered_like_the_storefront_and_leave_out_inactive_and_deleted_ones() -> None:
    now = timezone.now()
    shoes = Category.objects.create(slug="shoes", name="Shoes")
    hot, warm, sold_out, hidden, gone = (
        product(category=shoes),
        product(),
        product(category=shoes, stock=0),
        product(is_active=False),
        product(),
    )
    for clicks, target in ((5, hot), (3, warm), (4, sold_out), (9, hidden), (8, gone)):
        for number in range(clicks):
            record("click", target, at=now, client=f"c-{number}")
    update()
    gone.delete()

    def ids(**filters: object) -> list[int]:
        return [item.product_id for item in popular_products(limit=10, **filters)]  # type: ignore[arg-type]

    assert ids() == [hot.pk, sold_out.pk, warm.pk]
    assert ids(category_id=shoes.pk) == [hot.pk, sold_out.pk]
    assert ids(in_stock=True) == [hot.pk, warm.pk]
    assert ids(in_stock=False) == [sold_out.pk]
    assert ids(exclude=[hot.pk]) == [sold_out.pk, warm.pk]
    assert [item.score for item in popular_products(limit=1)] == [pytest.approx(5.0)]


def test_a_product_whose_clicks_have_faded_is_not_popular() -> None:
    now = timezone.now()
    old, fresh = product(), product()
    record("click", old, at=now - timedelta(hours=6 * HALF_LIFE))  # 1/64: under the selector's minimum
    record("click", fresh, at=now)
    update()

    assert [item.product_id for item in popular_products(limit=5)] == [fresh.pk]


def test_popular_products_is_one_query() -> None:
    now = timezone.now()
    for _ in range(5):
        record("click", product(), at=now)
    update()

    with CaptureQueriesContext(connection) as captured:
        popular = popular_products(limit=3, category_id=None, in_stock=True, exclude=[1])

    assert len(popular) == 3 and len(captured) == 1


def test_a_changed_half_life_rebuilds_the_scores_from_the_events() -> None:
    now = timezone.now()
    target = product()
    record("click", target, at=now - timedelta(hours=24))
    update(HALF_LIFE)

    update(24.0)

    assert PopularityState.objects.get().half_life_hours == 24.0
    score = ProductPopularity.objects.get(product_id=target.pk).log_score
    assert decay.current_score(score, now=now, half_life_hours=24.0) == pytest.approx(0.5, rel=1e-6)


def test_prune_drops_old_events_faded_rows_and_rows_of_deleted_products() -> None:
    now = timezone.now()
    kept, faded, deleted = product(), product(), product()
    record("click", kept, at=now)
    record("click", faded, at=now - timedelta(hours=10 * HALF_LIFE))  # 1/1024 of a click: under the floor
    record("click", deleted, at=now)
    record("view", kept, at=now - timedelta(days=100))
    update()
    deleted.delete()

    events, rows = feedback_prune(older_than=timedelta(days=90), half_life_hours=HALF_LIFE, now=now)

    assert (events, rows) == (1, 2)
    assert list(ProductPopularity.objects.values_list("product_id", flat=True)) == [kept.pk]
    assert Event.objects.count() == 3


def test_a_log_score_decades_from_the_epoch_neither_overflows_nor_loses_precision() -> None:
    # 40 years with a one-hour half-life: 2 ** 350,000 as a plain sum; its logarithm is ~243,000.
    far = decay.EPOCH + timedelta(days=365 * 40)
    log_score = decay.log_term(weight=5.0, at=far, half_life_hours=1.0)

    assert decay.current_score(log_score, now=far + timedelta(hours=1), half_life_hours=1.0) == pytest.approx(2.5)
    assert decay.current_score(log_score, now=far + timedelta(days=365), half_life_hours=1.0) == 0.0


@pytest.mark.django_db(transaction=True)
def test_two_updates_at_once_count_every_event_exactly_once() -> None:
    # Given 400 clicks pending (distinct shoppers), when two workers update at the same time
    now = timezone.now()
    products = [product() for _ in range(4)]
    feedback_events_record(
        events=[EventInput("click", products[n % 4].pk, f"c-{n}") for n in range(400)],
        now=now,
    )
    popularity_update(half_life_hours=HALF_LIFE, batch_size=1, max_batches=1)  # the state row exists
    counted: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def work() -> None:
        try:
            barrier.wait()  # both start together
            counted.append(popularity_update(half_life_hours=HALF_LIFE, batch_size=25, max_batches=100))
        except BaseException as exc:  # reported by the assertion below, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then together they counted the 399 left, and each product has exactly its 100 clicks
    assert not errors, errors
    assert sum(counted) == 399
    scores = popularity_scores([p.pk for p in products], now=now)
    assert all(score == pytest.approx(100.0, rel=1e-6) for score in scores.values()), scores
