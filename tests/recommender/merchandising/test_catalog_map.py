from __future__ import annotations

import gzip
import json
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import Client

from embeddings.services import space_encoder_activate, space_encoder_register
from recommender.merchandising.catalog_map import MAP_GRID
from recommender.merchandising.selectors import catalog_map_current
from recommender.merchandising.tasks import building_key, catalog_map_build_task
from tests.recommender.pages_fixtures import Shop


def clustered_catalog(shop: Shop, per_cluster: int = 15) -> dict[str, list[int]]:
    """Two tight clusters far apart, one per category (axis 0 vs axis 2)."""
    rng = np.random.default_rng(7)
    clusters: dict[str, list[int]] = {"bags": [], "shoes": []}
    for category, centre in (("bags", [1, 0, 0, 0]), ("shoes", [0, 0, 1, 0])):
        for _ in range(per_cluster):
            vector = (np.asarray(centre, dtype=float) + rng.normal(scale=0.05, size=4)).tolist()
            clusters[category].append(shop.product(category=category, visual=vector, semantic=vector).pk)
    return clusters


def decode(points: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    ids = np.cumsum(points["ids"])
    xy = np.column_stack([points["x"], points["y"]]).astype(float)
    return ids, xy, [points["categories"][c] for c in points["c"]]


@pytest.mark.django_db
def test_it_builds_a_compact_map_that_keeps_clusters_apart(shop: Shop, encoders: None) -> None:
    # Given two categories whose vectors form two distant clusters, and one inactive product
    clusters = clustered_catalog(shop)
    shop.product(category="bags", visual=[1, 0, 0, 0], is_active=False)
    out = StringIO()

    # When the map of the visual space is built
    call_command("build_catalog_map", "--space=visual", stdout=out)

    # Then the cached map holds every active product once, by id, with its category
    built = catalog_map_current("visual")
    assert built is not None and built.encoder == "pages-visual@1"
    points = json.loads(gzip.decompress(built.points.read_bytes()))
    assert built.header() == {key: points[key] for key in built.header()}
    assert points["method"] == "tsne" and points["count"] == 30
    ids, xy, categories = decode(points)
    by_id = dict(zip(ids.tolist(), categories, strict=True))
    assert sorted(by_id) == sorted(clusters["bags"] + clusters["shoes"])
    assert {by_id[pk] for pk in clusters["bags"]} == {"Bags"}
    assert xy.min() >= 0 and xy.max() <= MAP_GRID
    # and each cluster stays together, far from the other
    bags = xy[np.isin(ids, clusters["bags"])]
    shoes = xy[np.isin(ids, clusters["shoes"])]
    spread = max(
        np.linalg.norm(bags - bags.mean(0), axis=1).mean(), np.linalg.norm(shoes - shoes.mean(0), axis=1).mean()
    )
    assert np.linalg.norm(bags.mean(0) - shoes.mean(0)) > 3 * spread
    assert "visual: 30 products, tsne" in out.getvalue()


@pytest.mark.django_db
def test_a_map_belongs_to_one_encoder_and_is_not_shown_after_the_space_switches(shop: Shop, encoders: None) -> None:
    # Given a second semantic encoder being backfilled (registered before any row: it builds indexes)
    space_encoder_register(space="semantic", identity="pages-semantic@2", dim=4)
    clustered_catalog(shop, per_cluster=3)
    call_command("build_catalog_map", "--space=semantic", stdout=StringIO())
    assert catalog_map_current("semantic") is not None

    # When the space switches to it, the old encoder's map is no longer offered
    space_encoder_activate(space="semantic", identity="pages-semantic@2")

    assert catalog_map_current("semantic") is None


@pytest.mark.django_db
def test_it_fails_with_one_line_when_there_is_nothing_to_map(shop: Shop) -> None:
    with pytest.raises(CommandError, match="space 'visual' has no active encoder yet"):
        call_command("build_catalog_map", "--space=visual")


@pytest.mark.django_db
def test_the_map_page_serves_the_points_gzipped_and_thumbnails_on_demand(
    merchandiser: Client, shop: Shop, encoders: None
) -> None:
    clusters = clustered_catalog(shop, per_cluster=4)
    call_command("build_catalog_map", "--space=visual", stdout=StringIO())

    page = merchandiser.get("/staff/map/?space=visual").content.decode()
    points = merchandiser.get("/staff/map/visual/points.json")
    first = clusters["bags"][0]
    thumbnails = merchandiser.get(f"/staff/map/thumbnails/?ids={first},999999").json()

    assert "8 products, PCA of the visual vectors" in page and 'id="catalog-map"' in page
    assert points["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(b"".join(points.streaming_content)))["count"] == 8  # type: ignore[attr-defined]
    assert list(thumbnails["products"]) == [str(first)]
    assert thumbnails["products"][str(first)]["url"].startswith("/media/thumbs/160/")


@pytest.mark.django_db
def test_the_map_is_private_to_staff_and_never_published_under_media(
    merchandiser: Client, shop: Shop, encoders: None, settings: Any
) -> None:
    anonymous = Client()
    clustered_catalog(shop, per_cluster=4)
    call_command("build_catalog_map", "--space=visual", stdout=StringIO())
    built = catalog_map_current("visual")
    assert built is not None

    # Nothing of the map lies under MEDIA_ROOT, which the web server publishes as /media/.
    assert not list(Path(settings.MEDIA_ROOT).rglob("*.json*"))
    assert built.points.is_relative_to(Path(settings.CATALOG_MAP_ROOT))
    assert anonymous.get(f"/media/maps/{built.points.name}").status_code == 404
    # The staff view serves it to merchandisers only.
    assert anonymous.get("/staff/map/visual/points.json").status_code == 302
    assert merchandiser.get("/staff/map/visual/points.json").status_code == 200


@pytest.mark.django_db
def test_the_map_page_offers_to_build_a_missing_map_and_enqueues_one_build(
    merchandiser: Client, shop: Shop, encoders: None, django_capture_on_commit_callbacks: Any
) -> None:
    clustered_catalog(shop, per_cluster=3)
    assert "Build the map" in merchandiser.get("/staff/map/?space=semantic").content.decode()
    assert merchandiser.get("/staff/map/semantic/points.json").status_code == 404

    # When the button is pressed twice
    with django_capture_on_commit_callbacks() as callbacks:
        first = merchandiser.post("/staff/map/build/", {"space": "semantic"})
        merchandiser.post("/staff/map/build/", {"space": "semantic"})

    # Then one build is queued and the page says it is building
    assert first.status_code == 302 and first["Location"] == "/staff/map/?space=semantic"
    assert len(callbacks) == 1
    assert "Building…" in merchandiser.get("/staff/map/?space=semantic").content.decode()
    # and running the task builds the map and clears the flag
    assert catalog_map_build_task.apply(args=("semantic",)).get() == 6
    assert catalog_map_current("semantic") is not None
    assert cache.get(building_key("semantic")) is None
