"""`manage.py find_duplicates`: the full-catalog scan, resumable, and the in-process ANN index it uses."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from embeddings import ann
from embeddings.models import ImageVector
from recommender.duplicates.models import DuplicateGroup, DuplicatePair, DuplicateScan
from tests.recommender.duplicates.conftest import ENCODER, Listing, Vectors, listing, relistings

pytestmark = pytest.mark.django_db


def planted_catalog(vectors: Vectors, *, originals: int = 12) -> list[tuple[Listing, Listing]]:
    """`originals` unrelated listings, each with one near-duplicate re-listing, and some singles."""
    pairs = []
    for _ in range(originals):
        base = vectors.random()
        pairs.append((listing(base), listing(vectors.at(base, 0.95))))
    for _ in range(10):
        listing(vectors.random())
    return pairs


def found(pair: tuple[Listing, Listing]) -> bool:
    low, high = sorted([pair[0].product.pk, pair[1].product.pk])
    return DuplicatePair.objects.filter(product_low_id=low, product_high_id=high).exists()


@pytest.mark.usefixtures("visual_space")
def test_the_scan_finds_every_planted_duplicate_and_groups_them(vectors: Vectors) -> None:
    planted = planted_catalog(vectors)
    out, err = io.StringIO(), io.StringIO()

    call_command("find_duplicates", stdout=out, stderr=err)

    assert all(found(pair) for pair in planted)
    assert DuplicatePair.objects.count() == len(planted), "random vectors in 32-d are far apart"
    assert DuplicateGroup.objects.filter(status="open").count() == len(planted)
    scan = DuplicateScan.objects.get()
    assert (scan.status, scan.images_scanned, scan.images_total) == ("done", 34, 34)
    assert "scanned 34 of 34 photos" in out.getvalue()
    assert "34/34" in err.getvalue(), "tqdm progress bar"


@pytest.mark.usefixtures("visual_space")
def test_an_interrupted_scan_resumes_after_its_last_committed_batch(vectors: Vectors) -> None:
    # Given a scan that stopped after the first half of the photos
    planted = planted_catalog(vectors)
    vector_ids = sorted(ImageVector.objects.filter(encoder=ENCODER).values_list("id", flat=True))
    DuplicateScan.objects.create(encoder=ENCODER, cursor=vector_ids[16], images_scanned=17)
    out = io.StringIO()

    # When find_duplicates runs again
    call_command("find_duplicates", "--no-progress", "--batch-size", "5", stdout=out)

    # Then it searches only the photos after the cursor: pairs with a photo there are found (the later
    # photo finds the earlier one), pairs wholly before it were the interrupted run's job and are not redone
    scan = DuplicateScan.objects.get()
    assert "resuming: 17 of 34 photos already scanned" in out.getvalue()
    assert scan.status == "done" and scan.images_scanned == 34
    assert [found(pair) for pair in planted] == [False] * 8 + [True] * 4

    # And --restart starts a fresh scan over everything
    call_command("find_duplicates", "--no-progress", "--restart", stdout=io.StringIO())
    assert DuplicateScan.objects.filter(status="done").count() == 2


def tier_of(a: Listing, b: Listing) -> str | None:
    low, high = sorted([a.product.pk, b.product.pk])
    return DuplicatePair.objects.filter(product_low_id=low, product_high_id=high).values_list("tier", flat=True).first()


@pytest.mark.usefixtures("visual_space")
def test_the_scan_finds_turned_and_greyscale_relistings_that_the_visual_neighbours_miss(
    vectors: Vectors, settings: Any
) -> None:
    # Given the upload check's catalogue (tests/recommender/duplicates/conftest.py: relistings): a real photo
    # re-listed turned (0.55) and in greyscale (0.45) among nearer look-alikes, the original stored before
    # photos kept their turned pHashes, and a k-NN of three
    settings.DUPLICATES_KNN_LIMIT = 3
    catalogue = relistings(vectors, original_turns=False)

    # When the whole catalogue is scanned, in batches that split the copies from the original
    call_command("find_duplicates", "--no-progress", "--batch-size", "2", stdout=io.StringIO())

    # Then it finds the pairs the upload check finds, and nothing else (not the flat swatches either)
    assert tier_of(catalogue.original, catalogue.turned) == "near_duplicate"
    assert tier_of(catalogue.original, catalogue.greyscale) == "exact"
    assert tier_of(catalogue.turned, catalogue.greyscale) == "near_duplicate"
    assert DuplicatePair.objects.count() == 3
    turned = DuplicatePair.objects.get(
        product_high_id=catalogue.turned.product.pk, product_low_id=catalogue.original.product.pk
    )
    assert turned.similarity == pytest.approx(0.55, abs=2e-3) and turned.phash_distance is not None
    assert turned.phash_distance <= 4
    groups = DuplicateGroup.objects.filter(status="open")
    assert [set(g.members.values_list("product_id", flat=True)) for g in groups] == [
        {catalogue.original.product.pk, catalogue.turned.product.pk, catalogue.greyscale.product.pk}
    ]


def test_the_scan_fails_with_one_line_before_any_photo_is_embedded() -> None:
    with pytest.raises(CommandError, match="no visual encoder is active yet"):
        call_command("find_duplicates", "--no-progress")


def test_the_ivf_index_finds_planted_duplicates_among_many_look_alikes() -> None:
    # Given 25,000 clustered vectors (above the exact-search size) with 250 planted near-copies
    rng = np.random.default_rng(3)
    count, dim = 25_000, 192
    centres = rng.normal(size=(50, dim))
    points = centres[rng.integers(0, 50, count)] + rng.normal(size=(count, dim)) * 1.2
    originals = rng.choice(count // 2, 250, replace=False)
    copies = rng.choice(np.arange(count // 2, count), 250, replace=False)
    points[copies] = points[originals] + rng.normal(size=(250, dim)) * 0.12
    points /= np.linalg.norm(points, axis=1, keepdims=True)

    # When the index is built and searched for every photo
    index = ann.build_index(points.astype(np.float16))
    found: set[tuple[int, int]] = set()
    for start in range(0, count, 4096):
        rows = np.arange(start, min(count, start + 4096))
        queries, neighbours, similarity = ann.similar_pairs(index, rows, k=10, min_similarity=0.9)
        assert (similarity >= 0.9).all()
        found |= {(min(a, b), max(a, b)) for a, b in zip(queries.tolist(), neighbours.tolist(), strict=True)}

    # Then it is an IVF index, and at least 98% of the planted pairs come back with exact similarities
    assert index.assignments is not None
    planted = {(min(a, b), max(a, b)) for a, b in zip(originals.tolist(), copies.tolist(), strict=True)}
    assert len(planted & found) / len(planted) >= 0.98
