from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.test import Client

from config.roles import MERCHANDISERS
from tests.recommender.pages_fixtures import login

STAFF_PAGES = ["/staff/duplicates/", "/staff/matrix/", "/staff/map/", "/staff/report/"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", STAFF_PAGES)
def test_it_sends_anonymous_visitors_to_the_login_page(client: Client, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/staff/login/?next={path}"


@pytest.mark.django_db
@pytest.mark.parametrize("path", STAFF_PAGES)
def test_it_refuses_signed_in_shoppers(client: Client, path: str) -> None:
    assert login(client).get(path).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("path", STAFF_PAGES)
@pytest.mark.parametrize("role", ["staff", "merchandiser"])
def test_it_opens_for_staff_and_the_merchandisers_group(client: Client, path: str, role: str) -> None:
    signed_in = login(client, staff=role == "staff", merchandiser=role == "merchandiser")

    assert signed_in.get(path).status_code == 200


@pytest.mark.django_db
def test_the_duplicate_review_page_loads_its_script_and_a_status_region(merchandiser: Client) -> None:
    html = merchandiser.get("/staff/duplicates/").content.decode()

    assert "pages/js/duplicates.js" in html
    assert 'role="status"' in html and 'id="duplicate-groups"' in html


@pytest.mark.django_db
def test_a_merchandiser_who_is_not_staff_signs_in_on_the_staff_sign_in_page(client: Client) -> None:
    # Given a merchandiser without staff status (the admin's sign-in would turn them away)
    user = get_user_model().objects.create_user(username="mia", password="a-long-password-1")
    user.groups.add(Group.objects.get_or_create(name=MERCHANDISERS)[0])

    # When they sign in on the page the staff pages send them to
    page = client.get("/staff/login/?next=/staff/duplicates/")
    signed_in = client.post(
        "/staff/login/", {"username": "mia", "password": "a-long-password-1", "next": "/staff/duplicates/"}
    )

    # Then they land on the duplicate review page
    assert page.status_code == 200 and 'name="password"' in page.content.decode()
    assert signed_in.status_code == 302 and signed_in["Location"] == "/staff/duplicates/"
    assert client.get("/staff/duplicates/").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("sign_in", ["/staff/login/", "/admin/login/"])
def test_repeated_wrong_passwords_lock_the_address_out_even_for_the_right_one(
    client: Client, settings: Any, sign_in: str
) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    get_user_model().objects.create_user(username="mia", password="the-right-password-1", is_staff=True)
    cache.clear()  # the lockout counts live in the cache

    wrong = [client.post(sign_in, {"username": "mia", "password": f"guess-{n}"}).status_code for n in range(4)]
    right = client.post(sign_in, {"username": "mia", "password": "the-right-password-1"})
    elsewhere = Client(REMOTE_ADDR="198.51.100.7").post(
        sign_in, {"username": "mia", "password": "the-right-password-1"}
    )

    assert wrong[:2] == [200, 200] and wrong[3] == 429, wrong
    assert right.status_code == 429, "locked out: the right password does not help"
    assert elsewhere.status_code == 302, "another address is not locked out"
