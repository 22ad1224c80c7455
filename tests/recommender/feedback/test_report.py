"""The recommendation report (selector and `manage.py recommendation_report`): lists and impressions from the
log, clicks from attributed events, per day, endpoint, mode, strategy and the encoder of the time."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from catalog.models import Product
from embeddings.models import SpaceEncoder
from embeddings.services import space_encoder_activate, space_encoder_register
from recommender.feedback.selectors.report import ReportRow, recommendation_report, report_totals
from recommender.feedback.services import EventInput, feedback_events_record
from recommender.storefront.models import RecommendationLog
from tests.recommender.feedback.conftest import product, served

pytestmark = pytest.mark.django_db

TODAY = timezone.now().date()


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def list_on(day: date, products: list[Product], hour: int = 12, **kind: str | None) -> uuid.UUID:
    recommendation = served(products, **kind)  # type: ignore[arg-type]
    RecommendationLog.objects.filter(pk=recommendation).update(created_at=at(day, hour))
    return recommendation


def clicks(recommendation: uuid.UUID, *pairs: tuple[Product, str], event_type: str = "click") -> None:
    feedback_events_record(
        events=[EventInput(event_type, item.pk, client, recommendation_id=recommendation) for item, client in pairs]
    )


def key(row: ReportRow) -> tuple[object, ...]:
    return (row.day, row.endpoint, row.mode, row.strategy, row.lists, row.impressions, row.clicks)


def test_lists_impressions_and_clicks_add_up_per_day_endpoint_mode_and_strategy() -> None:
    # Given three lists today (two hybrid more-like-this, one text search) and one yesterday
    a, b, c = product(), product(), product()
    first = list_on(TODAY, [a, b, c])
    second = list_on(TODAY, [a, b])
    search = list_on(TODAY, [c], endpoint="search", mode=None, strategy="exact")
    older = list_on(TODAY - timedelta(days=1), [a, b])
    # and clicks: a double click (counted once), two shoppers on one product, a purchase
    clicks(first, (a, "s1"), (a, "s1"), (b, "s2"), (a, "s3"))
    clicks(second, (b, "s1"))
    clicks(second, (b, "s1"), event_type="purchase")
    clicks(older, (a, "s9"))
    feedback_events_record(events=[EventInput("view", c.pk, "s1", recommendation_id=search)])

    rows = recommendation_report(since=TODAY - timedelta(days=1), until=TODAY)

    # Then newest day first; lists and impressions from the log; each shopper once per product and list
    assert [key(row) for row in rows] == [
        (TODAY, "search", "", "exact", 1, 1, 0),
        (TODAY, "similar", "hybrid", "hnsw", 2, 5, 4),
        (TODAY - timedelta(days=1), "similar", "hybrid", "hnsw", 1, 2, 1),
    ]
    assert rows[1].ctr == pytest.approx(4 / 5) and rows[1].purchases == 1 and rows[1].add_to_carts == 0
    assert rows[0].ctr == 0.0
    totals = report_totals(rows)
    assert totals is not None and (totals.lists, totals.impressions, totals.clicks) == (4, 8, 5)


def test_days_outside_the_period_are_left_out_and_an_empty_period_is_empty() -> None:
    list_on(TODAY - timedelta(days=3), [product()])

    assert recommendation_report(since=TODAY - timedelta(days=2), until=TODAY) == []
    assert len(recommendation_report(since=TODAY - timedelta(days=3), until=TODAY - timedelta(days=3))) == 1
    with pytest.raises(ValueError, match="before since"):
        recommendation_report(since=TODAY, until=TODAY - timedelta(days=1))


def test_each_list_is_reported_under_the_encoders_of_its_spaces_when_it_was_served() -> None:
    # Given the visual space switching encoders mid-day, and the semantic space with one encoder all day
    space_encoder_register(space="visual", identity="old-visual@1", dim=8)
    space_encoder_register(space="semantic", identity="text@1", dim=8)
    space_encoder_register(space="visual", identity="new-visual@2", dim=8)
    SpaceEncoder.objects.update(activated_at=at(TODAY, 0))
    space_encoder_activate(space="visual", identity="new-visual@2")
    SpaceEncoder.objects.filter(encoder="new-visual@2").update(activated_at=at(TODAY, 12))
    item = product()
    list_on(TODAY, [item], hour=9, mode="visual")
    list_on(TODAY, [item], hour=15, mode="visual")
    list_on(TODAY, [item], hour=9, mode="hybrid")
    list_on(TODAY, [item], hour=15, endpoint="search", mode=None)
    list_on(TODAY, [item], hour=9, endpoint="search", mode=None)

    rows = recommendation_report(since=TODAY, until=TODAY)

    assert sorted((row.endpoint, row.mode, row.encoder, row.lists) for row in rows) == [
        # text search ranks in the semantic space only: one row although the visual encoder changed
        ("search", "", "text@1", 2),
        ("similar", "hybrid", "old-visual@1 + text@1", 1),
        ("similar", "visual", "new-visual@2", 1),
        ("similar", "visual", "old-visual@1", 1),
    ]


def test_the_command_prints_a_table_with_totals() -> None:
    a = product()
    clicks(list_on(TODAY, [a]), (a, "s1"))
    out = io.StringIO()

    call_command("recommendation_report", "--days", "1", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0] == f"Recommendation report {TODAY} .. {TODAY} (UTC)"
    assert lines[1].split() == [
        "day", "endpoint", "mode", "strategy", "encoder", "lists", "impressions", "clicks", "ctr",
        "add_to_carts", "purchases",
    ]  # fmt: skip
    assert lines[2].split() == [str(TODAY), "similar", "hybrid", "hnsw", "-", "1", "1", "1", "100.00%", "0", "0"]
    assert lines[3].split() == ["total", "1", "1", "1", "100.00%", "0", "0"]


def test_the_command_writes_json_and_csv() -> None:
    a, b = product(), product()
    clicks(list_on(TODAY, [a, b]), (b, "s1"))

    as_json, as_csv = io.StringIO(), io.StringIO()
    call_command("recommendation_report", "--since", str(TODAY), "--format", "json", stdout=as_json)
    call_command("recommendation_report", "--format", "csv", stdout=as_csv)

    (row,) = json.loads(as_json.getvalue())
    assert (row["day"], row["impressions"], row["clicks"], row["ctr"]) == (str(TODAY), 2, 1, 0.5)
    header, line = list(csv.reader(io.StringIO(as_csv.getvalue())))
    assert dict(zip(header, line, strict=True))["ctr"] == "0.500000"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--days", "0"], "--days must be 1..30"),
        (["--days", "31"], "--days must be 1..30"),
        (["--since", "yesterday"], "not a date"),
        (["--since", "2030-01-02", "--until", "2030-01-01"], "is after --until"),
    ],
)
def test_the_command_refuses_a_bad_period_in_one_line(arguments: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("recommendation_report", *arguments, stdout=io.StringIO())


def test_the_command_says_so_when_nothing_was_served() -> None:
    out = io.StringIO()
    call_command("recommendation_report", stdout=out)
    assert out.getvalue().splitlines()[-1] == "No storefront lists were served in these days."
