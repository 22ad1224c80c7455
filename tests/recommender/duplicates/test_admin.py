"""The admin review page: groups side by side for merchandisers, decisions as admin actions."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from config.roles import MERCHANDISERS
from recommender.duplicates.models import DuplicateDecision, DuplicateGroup
from recommender.duplicates.services import duplicates_check_image
from tests.recommender.duplicates.conftest import Vectors, listing

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("visual_space")]

URL = "/admin/duplicates/duplicategroup/"


def signed_in(username: str, *, merchandiser: bool, staff: bool = True) -> tuple[Client, User]:
    user = User.objects.create_user(username=username, password="a-long-test-password", is_staff=staff)
    if merchandiser:
        # get_or_create: a transaction=True test may have flushed the row the migration made.
        user.groups.add(Group.objects.get_or_create(name=MERCHANDISERS)[0])
    client = Client()
    client.force_login(user)
    return client, user


def test_merchandisers_review_groups_side_by_side_and_decide_with_an_action(vectors: Vectors) -> None:
    base = vectors.random()
    first = listing(base, title="Linen shirt", seller="shop-a")
    listing(vectors.at(base, 0.95), title="Linen shirt copy", seller="shop-b")
    duplicates_check_image(image_id=first.image.pk)
    group = DuplicateGroup.objects.get()
    client, user = signed_in("mia", merchandiser=True)

    page = client.get(URL)
    html = page.content.decode()
    assert page.status_code == 200
    assert "Linen shirt copy" in html and "shop-b" in html and "19.90" in html
    assert html.count("/media/thumbs/") == 2, "one thumbnail per member"

    response = client.post(URL, {"action": "resolve_not_duplicate", "_selected_action": [group.pk]})
    assert response.status_code == 302
    group.refresh_from_db()
    assert group.status == "not_duplicate" and group.decided_by == user
    assert DuplicateDecision.objects.get().decided_by == user


def test_shoppers_are_sent_to_the_login_page_and_merchandisers_without_admin_access_use_the_api() -> None:
    shopper, _ = signed_in("sam", merchandiser=False, staff=False)
    merchandiser_without_staff, _ = signed_in("mo", merchandiser=True, staff=False)
    for client in (shopper, merchandiser_without_staff):
        response = client.get(URL)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
