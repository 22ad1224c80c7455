"""/staff/report/: the recommendation report and the most popular products, for merchandisers."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.utils import timezone

from recommender.feedback.services import EventInput, feedback_events_record, popularity_update
from tests.recommender.feedback.conftest import product, served

pytestmark = pytest.mark.django_db


def text(cell: str) -> str:
    return " ".join(re.sub(r"<[^>]+>|&nbsp;", " ", cell).split())


def cells(html: str) -> list[list[str]]:
    """The report table's body rows, as the text of their cells."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
    return [[text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)] for row in rows]


def test_a_merchandiser_sees_lists_clicks_and_ctr_and_what_is_popular(merchandiser: Client) -> None:
    # Given a list of four products, two of them clicked, and the popularity counted
    shown = [product() for _ in range(4)]
    recommendation = served(shown, strategy="exact")
    feedback_events_record(
        events=[
            EventInput("click", item.pk, f"s{n}", recommendation_id=recommendation) for n, item in enumerate(shown[:2])
        ]
    )
    popularity_update(half_life_hours=72.0, batch_size=100, max_batches=1)

    html = merchandiser.get("/staff/report/", {"days": "7"}).content.decode()

    today = timezone.now().date().isoformat()
    assert cells(html) == [[today, "similar", "hybrid", "exact", "—", "1", "4", "2", "50.00 %", "0", "0"]]
    assert 'aria-current="page">7 days' in html
    popular = html.split('<ol class="popular">', 1)[1].split("</ol>", 1)[0]
    assert shown[0].title in popular and shown[1].title in popular and shown[2].title not in popular


def test_an_empty_period_and_a_bad_one_say_so_instead_of_failing(merchandiser: Client) -> None:
    for days in ("abc", "-3", "0", "100000000000000000000"):
        response = merchandiser.get("/staff/report/", {"days": days})
        assert response.status_code == 200, days
        assert "No storefront lists were served in this period." in response.content.decode()
