from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from catalog.models import Product
from recommender.feedback.services import EventInput, feedback_events_record, popularity_update
from recommender.storefront.selectors import starter
from tests.recommender.storefront.conftest import Catalog, axis, ids

pytestmark = pytest.mark.django_db

URL = "/api/v1/recommendations/"
CLUSTERS = 4


def post(client: Client, body: dict[str, Any]) -> Any:
    return client.post(URL, body, content_type="application/json")


@pytest.fixture
def clustered(catalog: Catalog, settings: SettingsWrapper) -> dict[int, list[Product]]:
    """Four visual clusters (around axes 0..3) of 6, 5, 4 and 3 products; the newest all in cluster 3."""
    settings.RECOMMENDER_STARTER_CLUSTERS = CLUSTERS
    members: dict[int, list[Product]] = {}
    now = timezone.now()
    for cluster, size in enumerate((6, 5, 4, 3)):
        members[cluster] = []
        for i in range(size):
            product = catalog.product(
                visual=axis(cluster, tilt=0.1 + 0.05 * i, towards=4 + i % 4),
                semantic=axis(cluster, tilt=0.1 + 0.05 * i, towards=4 + i % 4),
                category=f"cat-{cluster}",
            )
            # Cluster 3 holds the newest products; the others are a year old.
            age = timedelta(days=i) if cluster == 3 else timedelta(days=365 + i)
            Product.objects.filter(pk=product.pk).update(created_at=now - age)
            members[cluster].append(product)
    return members


def cluster_of(product_id: int, members: dict[int, list[Product]]) -> int:
    return next(c for c, products in members.items() if product_id in {p.id for p in products})


def test_with_no_history_the_starter_set_covers_every_visual_cluster_not_just_the_newest(
    client: Client, clustered: dict[int, list[Product]]
) -> None:
    response = post(client, {"limit": CLUSTERS})

    body = response.json()
    assert response.status_code == 200, body
    assert body["count"] == CLUSTERS
    assert {cluster_of(pid, clustered) for pid in ids(response)} == set(range(CLUSTERS))
    assert body["diagnostics"]["strategy"] == "starter_clusters"
    assert body["diagnostics"]["clusters"] == CLUSTERS
    assert body["diagnostics"]["filters_applied"] == {"in_stock": True}
    assert body["recommendation_id"]


def test_the_starter_set_favours_newer_products_and_skips_what_is_out_of_stock(
    client: Client, clustered: dict[int, list[Product]]
) -> None:
    # Given the most central product of the biggest cluster sold out, and its least central one brand new
    central, outlying = clustered[0][0], clustered[0][-1]
    Product.objects.filter(pk=central.pk).update(stock=0)
    Product.objects.filter(pk=outlying.pk).update(created_at=timezone.now())

    chosen = ids(post(client, {"limit": CLUSTERS}))

    assert central.id not in chosen
    assert chosen[0] == outlying.id  # biggest cluster first; freshness outweighs a little distance


def test_a_product_embedded_after_the_clusters_were_computed_joins_its_cluster_at_once(
    client: Client, clustered: dict[int, list[Product]], catalog: Catalog
) -> None:
    # Given the starter clusters computed and cached by a first shopper
    before = ids(post(client, {"limit": CLUSTERS}))

    # When a new product is embedded near the second biggest cluster (no k-means runs again)
    new = catalog.product(visual=axis(1, tilt=0.12, towards=5), semantic=axis(1), category="cat-1")
    body = post(client, {"limit": CLUSTERS}).json()

    # Then the next request has it as that cluster's pick (the freshest, near the centre), scored against it
    chosen = [r["id"] for r in body["results"]]
    assert new.id not in before and chosen[1] == new.id
    assert chosen[:1] + chosen[2:] == before[:1] + before[2:]
    assert body["results"][1]["scores"]["visual"] > 0.9, "assigned to the cluster, not filled in as the newest"
    assert body["diagnostics"]["strategy"] == "starter_clusters"


def test_a_popular_product_leads_its_cluster_and_the_other_clusters_keep_their_turn(
    client: Client, clustered: dict[int, list[Product]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given only the two most central products of each cluster as its representatives
    monkeypatch.setattr(starter, "REPRESENTATIVES_PER_CLUSTER", 2)
    before = ids(post(client, {"limit": CLUSTERS}))
    # And shoppers buying the least central product of the second cluster (no representative)
    popular = clustered[1][-1]
    assert popular.id not in before
    feedback_events_record(events=[EventInput("purchase", popular.pk, "shopper-1")], now=timezone.now())
    popularity_update(half_life_hours=72.0, batch_size=100, max_batches=10)

    body = post(client, {"limit": CLUSTERS}).json()

    # Then it is that cluster's pick, scored against the cluster, and every other cluster still has its turn
    chosen = [r["id"] for r in body["results"]]
    assert chosen[1] == popular.id and body["results"][1]["scores"]["visual"] is not None
    assert chosen[:1] + chosen[2:] == before[:1] + before[2:]
    assert {cluster_of(pid, clustered) for pid in chosen} == set(range(CLUSTERS))


def test_the_starter_set_fills_up_with_the_newest_matches_when_filters_leave_few_representatives(
    client: Client, clustered: dict[int, list[Product]], catalog: Catalog
) -> None:
    # Given eight products of a category nobody clustered (no vectors yet)
    fresh = [catalog.product(category="new-arrivals") for _ in range(8)]

    response = post(client, {"limit": 5, "filters": {"category": "new-arrivals"}})

    assert response.json()["count"] == 5
    assert set(ids(response)) <= {p.id for p in fresh}


def test_pages_of_the_starter_set_do_not_overlap(client: Client, clustered: dict[int, list[Product]]) -> None:
    first = ids(post(client, {"limit": 5}))
    second = post(client, {"limit": 5, "offset": 5}).json()

    assert not set(first) & {r["id"] for r in second["results"]}
    assert second["next_offset"] == 10


def test_a_history_pulls_towards_what_was_liked_and_away_from_what_was_disliked(
    client: Client, clustered: dict[int, list[Product]], catalog: Catalog
) -> None:
    # Given a liked product halfway between clusters 0 and 1, and a disliked one from cluster 1
    between = catalog.product(visual=axis(0, tilt=1.0, towards=1), semantic=axis(0, tilt=1.0, towards=1))
    disliked = clustered[1][0]

    response = post(client, {"liked": [between.id], "disliked": [disliked.id], "limit": 4, "diversity": 0})

    body = response.json()
    assert body["count"] == 4
    assert {cluster_of(pid, clustered) for pid in ids(response)} == {0}
    assert between.id not in ids(response) and disliked.id not in ids(response)
    assert body["diagnostics"]["strategy"] in {"hnsw", "exact"}


def test_viewed_products_are_combined_and_never_shown_again(
    client: Client, clustered: dict[int, list[Product]]
) -> None:
    viewed = [clustered[2][0].id, clustered[2][1].id]

    response = post(client, {"viewed": viewed, "limit": 2, "diversity": 0})

    assert {cluster_of(pid, clustered) for pid in ids(response)} == {2}
    assert not set(viewed) & set(ids(response))


def test_ids_that_name_no_product_are_left_out_and_said_so(client: Client, clustered: dict[int, list[Product]]) -> None:
    liked = [clustered[2][0].id, 999_999_999]

    response = post(client, {"liked": liked, "disliked": [888_888_888], "limit": 2, "diversity": 0})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2 and {cluster_of(pid, clustered) for pid in ids(response)} == {2}
    assert body["diagnostics"]["ignored_ids"] == {"liked": [999_999_999], "disliked": [888_888_888]}


def test_a_form_encoded_body_is_refused_rather_than_read_without_its_nested_filters(client: Client) -> None:
    response = client.post(URL, {"liked": "1", "filters": "max_price=80"})

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_diversity_spreads_a_history_over_clusters(client: Client, clustered: dict[int, list[Product]]) -> None:
    liked = [clustered[0][0].id]

    focused = ids(post(client, {"liked": liked, "limit": 3, "diversity": 0}))
    varied = ids(post(client, {"liked": liked, "limit": 3, "diversity": 0.9}))

    assert {cluster_of(pid, clustered) for pid in focused} == {0}
    assert len({cluster_of(pid, clustered) for pid in varied}) > 1


def test_filters_and_stock_are_respected_with_a_history(client: Client, clustered: dict[int, list[Product]]) -> None:
    sold_out = clustered[0][1]
    Product.objects.filter(pk=sold_out.pk).update(stock=0)
    liked = [clustered[0][0].id]

    in_stock = ids(post(client, {"liked": liked, "limit": 20, "filters": {"category": "cat-0"}}))
    anything = ids(post(client, {"liked": liked, "limit": 20, "filters": {"category": "cat-0", "in_stock": None}}))

    assert sold_out.id not in in_stock and len(in_stock) == 4
    assert sold_out.id in anything and len(anything) == 5


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"liked": "12"}, "liked"),
        ({"viewed": [0]}, "viewed"),
        ({"limit": 0}, "limit"),
        ({"diversity": -1}, "diversity"),
        ({"filters": {"max_price": "x"}}, "filters"),
        ({"query": "x" * 300}, "query"),
    ],
)
def test_a_bad_body_is_a_400_naming_the_field(
    client: Client, clustered: dict[int, list[Product]], body: dict[str, Any], named: str
) -> None:
    response = post(client, body)

    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(named)


def test_cold_start_runs_a_bounded_number_of_queries_and_caches_the_clusters(
    client: Client, clustered: dict[int, list[Product]], django_assert_max_num_queries: Any
) -> None:
    post(client, {"limit": 12})  # computes and caches the clusters

    with django_assert_max_num_queries(8):
        response = post(client, {"limit": 12})
    assert response.json()["count"] == 12
