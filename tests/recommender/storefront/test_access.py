from __future__ import annotations

import time

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, User
from django.core.cache import cache as django_cache
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.authtoken.models import Token

from config.roles import STOREFRONTS
from recommender.storefront.api.throttles import counters_client
from tests.recommender.storefront.conftest import Catalog, axis

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(settings: SettingsWrapper) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "2/min", "user": "3/min", "storefront": "5/min"},
    }


@pytest.fixture
def similar_url(catalog: Catalog) -> str:
    source = catalog.product(visual=axis(0), semantic=axis(0))
    catalog.product(visual=axis(0, tilt=0.5, towards=1), semantic=axis(0))
    return f"/api/v1/products/{source.id}/similar/"


def token_for(username: str, *, storefront: bool) -> str:
    user = User.objects.create_user(username=username, password="x" * 12)
    if storefront:
        # get_or_create: a transaction=True test may have flushed the row the migration made.
        user.groups.add(Group.objects.get_or_create(name=STOREFRONTS)[0])
    return Token.objects.create(user=user).key


def allowed_before_throttled(client: Client, url: str, **headers: str) -> int:
    for made in range(20):
        response = client.get(url, headers=headers)
        if response.status_code == 429:
            return made
        assert response.status_code == 200, response.json()
    return 20


def test_a_window_counts_only_served_requests_and_retry_after_is_when_it_turns(
    client: Client, rates: None, similar_url: str
) -> None:
    # Given a shopper who used up the window (2/min), not in the window's last seconds
    if 60 - time.time() % 60 < 3:
        time.sleep(3)
    assert [client.get(similar_url).status_code for _ in range(2)] == [200, 200]

    # When they keep asking, every answer is a 429 telling when the window turns (within the minute)
    waits = [int(client.get(similar_url).headers["Retry-After"]) for _ in range(5)]
    assert all(1 <= wait <= 60 for wait in waits) and waits == sorted(waits, reverse=True)

    # And the refused requests were not counted: the window's counter still says 2
    counter = f"throttle_anon_127.0.0.1:{int(time.time() // 60)}"
    assert int(counters_client(django_settings.CACHE_URL).get(django_cache.make_key(counter)) or 0) == 2


def test_a_shopper_is_served_while_the_throttles_redis_is_down(
    client: Client, rates: None, similar_url: str, settings: SettingsWrapper
) -> None:
    # Given counters on a Redis that does not answer (nothing listens on port 1)
    settings.CACHE_URL = "redis://127.0.0.1:1/0"

    # Then shoppers are served past the rate rather than failed by the store that only guards them
    assert [client.get(similar_url).status_code for _ in range(3)] == [200, 200, 200]


def test_anonymous_shoppers_are_served_then_throttled_with_retry_after(
    client: Client, rates: None, similar_url: str
) -> None:
    assert client.get(similar_url).status_code == 200
    assert client.get(similar_url).status_code == 200

    response = client.get(similar_url)

    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    error = response.json()["error"]
    assert error["code"] == "throttled"
    assert error["details"]["retry_after_seconds"] == int(response.headers["Retry-After"])


def test_storefront_tokens_get_the_storefront_rate_and_other_users_the_user_rate(
    client: Client, rates: None, similar_url: str
) -> None:
    storefront = token_for("shop-frontend", storefront=True)
    someone = token_for("someone", storefront=False)

    assert allowed_before_throttled(client, similar_url, authorization=f"Token {storefront}") == 5
    assert allowed_before_throttled(client, similar_url, authorization=f"Token {someone}") == 3
    # Each caller has its own budget: anonymous shoppers are not affected by the tokens' use.
    assert allowed_before_throttled(client, similar_url) == 2


def test_every_storefront_endpoint_is_throttled(client: Client, rates: None, similar_url: str) -> None:
    client.get(similar_url)
    client.get(similar_url)

    assert client.get("/api/v1/search/", {"q": "dress"}).status_code == 429
    assert client.post("/api/v1/search/image/", {}).status_code == 429
    assert client.post("/api/v1/recommendations/", {}, content_type="application/json").status_code == 429


def test_a_bad_token_is_a_401_in_the_error_envelope(client: Client, similar_url: str) -> None:
    response = client.get(similar_url, headers={"authorization": "Token not-a-real-token"})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_anonymous_shoppers_may_post_to_the_read_endpoints(client: Client, similar_url: str) -> None:
    response = client.post("/api/v1/recommendations/", {"limit": 1}, content_type="application/json")

    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_x_forwarded_for_cannot_buy_an_anonymous_shopper_a_fresh_budget(
    client: Client, rates: None, similar_url: str
) -> None:
    # No proxy configured (NUM_PROXIES=0): the header is the client's own words, not its address.
    made = [client.get(similar_url, headers={"x-forwarded-for": f"198.51.100.{n}"}).status_code for n in range(3)]

    assert made == [200, 200, 429]


def test_behind_one_proxy_the_address_it_appended_is_the_client(
    client: Client, rates: None, similar_url: str, settings: SettingsWrapper
) -> None:
    settings.NUM_PROXIES = 1

    def get(forwarded: str) -> int:
        return client.get(similar_url, headers={"x-forwarded-for": forwarded}).status_code

    # Whatever the client puts in front, the proxy's entry (the last one) decides the bucket.
    assert [get(f"{spoof}, 203.0.113.5") for spoof in ("1.1.1.1", "2.2.2.2", "3.3.3.3")] == [200, 200, 429]
    assert get("1.1.1.1, 203.0.113.6") == 200, "another shopper behind the same proxy has a budget of its own"
