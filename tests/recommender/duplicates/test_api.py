"""GET /api/v1/duplicates/, POST .../resolve/ and .../restore/: shapes, permissions, effects on the storefront."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from catalog.models import Category, Product
from recommender.duplicates.models import DuplicateDecision, DuplicateGroup
from recommender.duplicates.services import duplicates_check_image
from tests.recommender.duplicates.conftest import Listing, Vectors, api_client, listing

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("visual_space")]


@pytest.fixture
def merchandiser() -> tuple[APIClient, User]:
    return api_client("mia", merchandiser=True)


def planted_group(vectors: Vectors, *, category: Category | None = None, cosine: float = 0.95) -> list[Listing]:
    base = vectors.random()
    items = [
        listing(base, category=category, seller="shop-a", title="Linen shirt"),
        listing(vectors.at(base, cosine), category=category, seller="shop-b", title="Linen shirt (copy)"),
    ]
    duplicates_check_image(image_id=items[0].image.pk)
    return items


def similar_ids(client: APIClient, product: Product) -> list[int]:
    response = client.get(f"/api/v1/products/{product.pk}/similar/?mode=visual&max_similarity=1&limit=20")
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def test_only_merchandisers_and_staff_can_see_and_resolve_the_queue(vectors: Vectors) -> None:
    planted_group(vectors)
    group = DuplicateGroup.objects.get()
    shopper, _ = api_client("sam")
    staff, _ = api_client("stella", staff=True)
    merchandiser, _ = api_client("mia", merchandiser=True)

    anonymous = APIClient().get("/api/v1/duplicates/")
    forbidden = shopper.get("/api/v1/duplicates/")
    forbidden_resolve = shopper.post(f"/api/v1/duplicates/{group.pk}/resolve/", {"decision": "not_duplicate"})

    assert anonymous.status_code == 401
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "permission_denied"
    assert "merchandisers" in forbidden.json()["error"]["message"]
    assert forbidden_resolve.status_code == 403
    assert DuplicateGroup.objects.get().status == "open", "a refused decision changes nothing"
    assert staff.get("/api/v1/duplicates/").status_code == 200
    assert merchandiser.get("/api/v1/duplicates/").status_code == 200


def test_the_queue_lists_groups_side_by_side_with_a_bounded_number_of_queries(
    vectors: Vectors, merchandiser: tuple[APIClient, User], django_assert_max_num_queries: Any
) -> None:
    shirts = Category.objects.create(slug="shirts", name="Shirts")
    for _ in range(6):
        planted_group(vectors, category=shirts)
    client, _ = merchandiser

    # auth (2), count, groups, members with products, categories and photos: whatever the page size.
    with django_assert_max_num_queries(5):
        response = client.get("/api/v1/duplicates/?limit=4")

    body = response.json()
    assert response.status_code == 200
    assert body["count"] == 6 and body["limit"] == 4 and body["offset"] == 0 and body["next_offset"] == 4
    assert len(body["results"]) == 4
    group = body["results"][0]
    assert set(group) == {
        "id",
        "tier",
        "status",
        "score",
        "representative_id",
        "category",
        "kept_product_id",
        "decided_by",
        "decided_at",
        "created_at",
        "updated_at",
        "members",
    }
    assert group["tier"] == "near_duplicate" and group["status"] == "open"
    assert group["category"] == {"id": shirts.pk, "slug": "shirts", "name": "Shirts"}
    representative, other = group["members"]
    assert representative["is_representative"] and representative["product"]["id"] == group["representative_id"]
    assert other["similarity"] == pytest.approx(0.95, abs=2e-3) and other["tier"] == "near_duplicate"
    assert other["product"]["seller"] in {"shop-a", "shop-b"} and other["product"]["price"] == "19.90"
    assert other["product"]["title"].startswith("Linen shirt")
    assert other["image"]["thumbnail"].startswith("http://testserver/media/thumbs/")
    assert other["representative_image"]["id"] == representative["image"]["id"]


def test_the_queue_filters_by_tier_status_and_category(vectors: Vectors, merchandiser: tuple[APIClient, User]) -> None:
    shirts = Category.objects.create(slug="shirts", name="Shirts")
    planted_group(vectors, category=shirts, cosine=0.95)
    planted_group(vectors, cosine=0.85)
    client, _ = merchandiser

    def ids(query: str) -> list[str]:
        response = client.get(f"/api/v1/duplicates/?{query}")
        assert response.status_code == 200, response.content
        return [group["tier"] for group in response.json()["results"]]

    assert ids("") == ["near_duplicate", "similar"], "strongest tier first"
    assert ids("tier=similar") == ["similar"]
    assert ids("category=shirts") == ["near_duplicate"]
    assert ids("status=duplicate") == []
    bad = client.get("/api/v1/duplicates/?tier=maybe&category=shirts")
    assert bad.status_code == 400 and bad.json()["error"]["message"].startswith("tier:")
    unknown = client.get("/api/v1/duplicates/?category=hats")
    assert unknown.status_code == 400 and "hats" in unknown.json()["error"]["message"]


def test_a_duplicate_decision_hides_the_others_from_the_storefront_until_restored(
    vectors: Vectors, merchandiser: tuple[APIClient, User]
) -> None:
    # Given a re-listed copy and a third product that shows both in "more like this"
    kept, copy = planted_group(vectors)
    browsing = listing(vectors.at(kept_vector := vectors.random(), 0.0))
    del kept_vector
    group = DuplicateGroup.objects.get()
    client, user = merchandiser
    assert set(similar_ids(APIClient(), browsing.product)) >= {kept.product.pk, copy.product.pk}

    # When the merchandiser keeps the original
    response = client.post(
        f"/api/v1/duplicates/{group.pk}/resolve/", {"decision": "duplicate", "keep": kept.product.pk}, format="json"
    )

    # Then the copy is inactive, gone from the storefront, and the decision says who and when
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "duplicate" and body["kept_product_id"] == kept.product.pk
    assert body["decided_by"] == "mia" and body["decided_at"]
    copy_row = next(m for m in body["members"] if m["product"]["id"] == copy.product.pk)
    assert copy_row["deactivated"] and not copy_row["product"]["is_active"]
    assert Product.objects.get(pk=copy.product.pk).is_active is False
    assert Product.objects.get(pk=kept.product.pk).is_active is True
    shown = similar_ids(APIClient(), browsing.product)
    assert copy.product.pk not in shown and kept.product.pk in shown
    log = DuplicateDecision.objects.get()
    assert (log.decision, log.decided_by, log.changed_product_ids) == ("duplicate", user, [copy.product.pk])

    # When restored, the copy comes back everywhere and the group is open again
    restored = client.post(f"/api/v1/duplicates/{group.pk}/restore/")
    assert restored.status_code == 200, restored.content
    assert restored.json()["status"] == "open"
    assert Product.objects.get(pk=copy.product.pk).is_active is True
    assert copy.product.pk in similar_ids(APIClient(), browsing.product)
    assert list(DuplicateDecision.objects.order_by("id").values_list("decision", flat=True)) == [
        "duplicate",
        "restore",
    ]


def test_a_bad_decision_is_refused_with_nothing_changed(vectors: Vectors, merchandiser: tuple[APIClient, User]) -> None:
    kept, copy = planted_group(vectors)
    stranger = listing(vectors.random())
    group = DuplicateGroup.objects.get()
    client, _ = merchandiser
    url = f"/api/v1/duplicates/{group.pk}/resolve/"

    missing_keep = client.post(url, {"decision": "duplicate"}, format="json")
    wrong_keep = client.post(url, {"decision": "duplicate", "keep": stranger.product.pk}, format="json")
    bad_word = client.post(url, {"decision": "maybe"}, format="json")
    unknown = client.post("/api/v1/duplicates/999999/resolve/", {"decision": "not_duplicate"}, format="json")
    not_restorable = client.post(f"/api/v1/duplicates/{group.pk}/restore/")

    assert missing_keep.status_code == 400 and missing_keep.json()["error"]["message"].startswith("keep:")
    assert wrong_keep.status_code == 400 and wrong_keep.json()["error"]["code"] == "invalid_keep"
    assert bad_word.status_code == 400 and bad_word.json()["error"]["message"].startswith("decision:")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    assert not_restorable.status_code == 409 and not_restorable.json()["error"]["code"] == "not_restorable"
    assert DuplicateGroup.objects.get().status == "open"
    assert Product.objects.filter(is_active=False).count() == 0
    assert not DuplicateDecision.objects.exists()

    first = client.post(url, {"decision": "not_duplicate"}, format="json")
    again = client.post(url, {"decision": "duplicate", "keep": kept.product.pk}, format="json")
    assert first.status_code == 200 and first.json()["status"] == "not_duplicate"
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_resolved"
    assert Product.objects.get(pk=copy.product.pk).is_active is True
