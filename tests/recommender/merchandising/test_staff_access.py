from __future__ import annotations

import pytest
from django.test import Client

from tests.recommender.pages_fixtures import login

STAFF_PAGES = ["/staff/duplicates/", "/staff/matrix/", "/staff/map/"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", STAFF_PAGES)
def test_it_sends_anonymous_visitors_to_the_login_page(client: Client, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={path}"


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
