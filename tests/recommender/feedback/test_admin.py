"""The admin shows events and popularity, and lets nobody write them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from recommender.feedback.services import EventInput, feedback_events_record, popularity_update
from tests.recommender.feedback.conftest import product

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(User.objects.create_superuser("root", password="a-long-test-password"))
    return client


def test_the_changelists_show_events_and_scores_now(admin_client: Client) -> None:
    item = product()
    feedback_events_record(events=[EventInput("purchase", item.pk, "c-42")])
    popularity_update(half_life_hours=72.0, batch_size=10, max_batches=1)

    events = admin_client.get("/admin/feedback/event/").content.decode()
    popularity = admin_client.get("/admin/feedback/productpopularity/").content.decode()

    assert "c-42" in events and "purchase" in events
    assert item.title in popularity and "5.00" in popularity


def test_nobody_adds_or_changes_events_in_the_admin(admin_client: Client) -> None:
    item = product()
    feedback_events_record(events=[EventInput("click", item.pk, "c-1")])

    assert admin_client.get("/admin/feedback/event/add/").status_code == 403
    changelist = admin_client.get("/admin/feedback/event/").content.decode()
    assert "/admin/feedback/event/add/" not in changelist
