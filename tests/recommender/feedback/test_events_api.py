"""POST /api/v1/events/: a batch is stored whole or not at all, and a bad one is a 400 naming every bad event."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import Settings as SettingsWrapper

from recommender.feedback.models import Event
from tests.recommender.feedback.conftest import Shop, product, served, storefront_token

pytestmark = pytest.mark.django_db

URL = "/api/v1/events/"


def post(client: Client, events: Any, **headers: str) -> Any:
    return client.post(URL, {"events": events}, content_type="application/json", headers=headers)


def click(shop: Shop, index: int = 0, **fields: Any) -> dict[str, Any]:
    return {
        "type": "click",
        "product_id": shop.products[index].pk,
        "recommendation_id": str(shop.recommendation_id),
        "client_id": "c-1",
    } | fields


def test_a_click_on_a_listed_product_is_stored_with_the_list_that_showed_it(client: Client, shop: Shop) -> None:
    # Given a list that showed two products, when the shopper clicks one and views the other's page
    response = post(client, [click(shop), {"type": "view", "product_id": shop.products[1].pk, "client_id": "c-1"}])

    # Then both events are stored; the click is attributed and waits to be counted in popularity
    assert response.status_code == 201, response.json()
    assert response.json() == {"stored": 2, "duplicates": 0}
    stored = {e.event_type: e for e in Event.objects.all()}
    assert stored["click"].product_id == shop.products[0].pk
    assert stored["click"].recommendation_id == shop.recommendation_id
    assert stored["click"].client_id == "c-1" and stored["click"].popularity_pending
    assert stored["view"].recommendation_id is None and not stored["view"].popularity_pending


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"type": "hover"}, "type", "unknown_event_type"),
        ({"recommendation_id": str(uuid.uuid4())}, "recommendation_id", "unknown_recommendation"),
        ({"recommendation_id": "not-a-uuid"}, "recommendation_id", "invalid"),
        ({"client_id": ""}, "client_id", "blank"),
        ({"client_id": "has spaces"}, "client_id", "invalid"),
        ({"product_id": 0}, "product_id", "min_value"),
    ],
)
def test_one_bad_event_is_a_400_naming_it_and_nothing_of_the_batch_is_stored(
    client: Client, shop: Shop, change: dict[str, Any], field: str, code: str
) -> None:
    response = post(client, [click(shop), click(shop, 1) | change])

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_events"
    assert error["message"].startswith(f"events[1].{field}: ") and error["message"].endswith("nothing was stored.")
    assert [(p["index"], p["field"], p["code"]) for p in error["details"]["problems"]] == [(1, field, code)]
    assert not Event.objects.exists()


def test_a_recommendation_that_did_not_show_the_product_is_foreign(client: Client, shop: Shop) -> None:
    response = post(client, [click(shop, 2)])  # products[2] was not in the list

    error = response.json()["error"]
    assert response.status_code == 400
    assert error["details"]["problems"][0]["code"] == "foreign_recommendation"
    assert f"did not serve product {shop.products[2].pk}" in error["message"]
    assert not Event.objects.exists()


def test_events_for_a_deleted_product_are_refused(client: Client, shop: Shop) -> None:
    gone = shop.products[1]
    gone_id = gone.pk
    gone.delete()

    response = post(client, [click(shop), click(shop, 1) | {"product_id": gone_id}])

    assert response.status_code == 400
    problems = response.json()["error"]["details"]["problems"]
    assert [(p["index"], p["code"]) for p in problems] == [(1, "unknown_product")]
    assert not Event.objects.exists()


def test_every_bad_event_of_a_batch_is_listed(client: Client, shop: Shop) -> None:
    response = post(client, [click(shop, 2), click(shop), {"type": "hover", "client_id": "c-1"}])

    problems = response.json()["error"]["details"]["problems"]
    assert [(p["index"], p["code"]) for p in problems] == [(0, "foreign_recommendation"), (2, "unknown_event_type")]
    assert not Event.objects.exists()


@pytest.mark.parametrize("body", [{}, {"events": []}, {"events": "click"}, [{"type": "click"}]])
def test_a_body_that_is_no_batch_is_a_400(client: Client, body: Any) -> None:
    response = client.post(URL, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert response.json()["error"]["message"] == "events: send a non-empty list of events."


def test_a_form_body_is_a_415_in_the_envelope(client: Client) -> None:
    response = client.post(URL, {"events": "x"})

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_a_batch_sent_again_with_its_event_ids_is_stored_once(client: Client, shop: Shop) -> None:
    events = [click(shop, index, event_id=str(uuid.uuid4())) for index in (0, 1)]

    first = post(client, events)
    again = post(client, [*events, click(shop, 0, event_id=str(uuid.uuid4()))])

    assert first.json() == {"stored": 2, "duplicates": 0}
    assert again.status_code == 201 and again.json() == {"stored": 1, "duplicates": 2}
    assert Event.objects.count() == 3


def test_shoppers_send_up_to_20_events_and_storefront_tokens_up_to_500(client: Client, shop: Shop) -> None:
    token = storefront_token()

    too_many = post(client, [click(shop)] * 21)
    shopper = post(client, [click(shop)] * 20)
    storefront = post(client, [click(shop)] * 500, authorization=f"Token {token}")
    over = post(client, [click(shop)] * 501, authorization=f"Token {token}")

    assert too_many.status_code == 400 and too_many.json()["error"]["code"] == "too_many_events"
    assert too_many.json()["error"]["details"] == {"max_events": 20, "sent": 21}
    assert shopper.status_code == 201 and storefront.status_code == 201
    assert over.status_code == 400 and over.json()["error"]["details"] == {"max_events": 500, "sent": 501}
    assert Event.objects.count() == 520


def test_a_batch_of_500_costs_the_same_few_queries_as_a_batch_of_one(client: Client, shop: Shop) -> None:
    token = storefront_token()
    many_lists = [served(shop.products[:2]) for _ in range(5)]

    def queries(events: list[dict[str, Any]]) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert post(client, events, authorization=f"Token {token}").status_code == 201
        return len(captured)

    one = queries([click(shop)])
    batch = queries([click(shop, i % 2, recommendation_id=str(many_lists[i % 5])) for i in range(500)])

    assert batch == one, "products, lists and the insert are one query each, whatever the batch size"


@pytest.fixture
def rates(settings: SettingsWrapper) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "2/min", "user": "3/min", "storefront": "4/min"},
    }


def test_a_burst_over_the_throttle_is_a_429_and_stores_nothing(client: Client, shop: Shop, rates: None) -> None:
    assert post(client, [click(shop)]).status_code == 201
    assert post(client, [click(shop)]).status_code == 201

    response = post(client, [click(shop)])

    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert response.json()["error"]["code"] == "throttled"
    assert Event.objects.count() == 2


def test_the_throttle_counts_addresses_not_client_ids_nor_forwarded_headers(
    client: Client, shop: Shop, rates: None
) -> None:
    # NUM_PROXIES is 0: X-Forwarded-For is the client's own word, and a new client_id is free to invent.
    post(client, [click(shop, client_id="a")])
    post(client, [click(shop, client_id="b")], x_forwarded_for="203.0.113.9")

    response = post(client, [click(shop, client_id="c")], x_forwarded_for="198.51.100.7")

    assert response.status_code == 429


def test_events_and_storefront_reads_have_budgets_of_their_own(client: Client, shop: Shop, rates: None) -> None:
    token = storefront_token()
    for _ in range(2):
        post(client, [click(shop)])

    assert post(client, [click(shop)]).status_code == 429
    # The same shopper can still search (its read budget is untouched) ...
    assert client.get("/api/v1/search/", {"q": "dress"}).status_code != 429
    # ... and a storefront token has the storefront rate for its batches.
    answers = [post(client, [click(shop)], authorization=f"Token {token}").status_code for _ in range(5)]
    assert answers == [201, 201, 201, 201, 429]


def test_an_inactive_product_still_takes_events(client: Client, shop: Shop) -> None:
    # Deactivated since it was shown (a duplicate resolved, say): the click happened, and is kept.
    hidden = product(is_active=False)
    recommendation = served([hidden])

    response = post(
        client,
        [{"type": "purchase", "product_id": hidden.pk, "recommendation_id": str(recommendation), "client_id": "c-9"}],
    )

    assert response.status_code == 201
    assert Event.objects.get().popularity_pending
