"""The per-photo check against the real database: tiers, variants, memory of decisions, no chaining."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from recommender.duplicates.decisions import duplicate_group_resolve
from recommender.duplicates.models import DuplicateGroup, DuplicateGroupMember, DuplicatePair, GroupStatus
from recommender.duplicates.services import duplicates_check_image
from tests.recommender.duplicates.conftest import Listing, Vectors, listing, relistings

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("visual_space")]

PHASH = 0x0F0F_3C3C_5A5A_7E7E


def pair_tier(a: Listing, b: Listing) -> str | None:
    low, high = sorted([a.product.pk, b.product.pk])
    return DuplicatePair.objects.filter(product_low_id=low, product_high_id=high).values_list("tier", flat=True).first()


def open_groups() -> list[set[int]]:
    return [
        set(group.members.values_list("product_id", flat=True))
        for group in DuplicateGroup.objects.filter(status=GroupStatus.OPEN)
    ]


def test_planted_duplicates_are_found_in_each_tier(vectors: Vectors) -> None:
    # Given an original and re-listings of it at every tier, plus an unrelated product
    base = vectors.random()
    original = listing(base, content=b"original photo", phash=PHASH)
    same_bytes = listing(vectors.at(base, 0.70), content=b"original photo")
    resized = listing(vectors.at(base, 0.86), phash=PHASH ^ 0b1011)  # 3 bits apart
    cropped = listing(vectors.at(base, 0.94))
    look_alike = listing(vectors.at(base, 0.84))
    unrelated = listing(vectors.at(base, 0.30))

    # When the original's photo is checked
    stored = duplicates_check_image(image_id=original.image.pk)

    # Then each re-listing is a pair in its tier, and the unrelated product is not flagged
    assert stored == 4
    assert pair_tier(original, same_bytes) == "exact"
    assert pair_tier(original, resized) == "exact"
    assert pair_tier(original, cropped) == "near_duplicate"
    assert pair_tier(original, look_alike) == "similar"
    assert pair_tier(original, unrelated) is None
    pair = DuplicatePair.objects.get(product_low_id=original.product.pk, product_high_id=resized.product.pk)
    assert (
        pair.phash_distance == 3 and pair.image_low_id == original.image.pk and pair.image_high_id == resized.image.pk
    )
    assert pair.similarity == pytest.approx(0.86, abs=2e-3)


def test_checking_a_photo_twice_changes_nothing(vectors: Vectors) -> None:
    base = vectors.random()
    original = listing(base)
    listing(vectors.at(base, 0.95))
    duplicates_check_image(image_id=original.image.pk)
    before = list(DuplicateGroup.objects.values_list("pk", "tier", "score"))

    duplicates_check_image(image_id=original.image.pk)

    assert list(DuplicateGroup.objects.values_list("pk", "tier", "score")) == before
    assert DuplicatePair.objects.count() == 1


def test_variants_of_one_product_group_are_not_flagged(vectors: Vectors) -> None:
    base = vectors.random()
    red = listing(base, product_group="tee-42", content=b"same studio shot")
    blue = listing(vectors.at(base, 0.97), product_group="tee-42", content=b"same studio shot")
    copy_by_another_seller = listing(vectors.at(base, 0.97))

    duplicates_check_image(image_id=red.image.pk)

    assert pair_tier(red, blue) is None
    assert pair_tier(red, copy_by_another_seller) == "near_duplicate"
    assert open_groups() == [{red.product.pk, copy_by_another_seller.product.pk}]


def test_inactive_listings_are_neither_checked_nor_flagged(vectors: Vectors) -> None:
    base = vectors.random()
    active = listing(base)
    hidden = listing(vectors.at(base, 0.99))
    hidden.product.is_active = False
    hidden.product.save()

    assert duplicates_check_image(image_id=active.image.pk) == 0
    assert duplicates_check_image(image_id=hidden.image.pk) == 0
    assert not DuplicatePair.objects.exists()


def test_a_not_duplicate_decision_is_remembered_until_one_of_the_photos_changes(vectors: Vectors) -> None:
    # Given two look-alike listings that a merchandiser decided are different products
    base = vectors.random()
    first = listing(base)
    second = listing(vectors.at(base, 0.93))
    duplicates_check_image(image_id=first.image.pk)
    group = DuplicateGroup.objects.get()
    duplicate_group_resolve(group_id=group.pk, decision="not_duplicate", keep_product_id=None, actor=None)

    # When either photo is checked again, the pair is not flagged again
    duplicates_check_image(image_id=first.image.pk)
    duplicates_check_image(image_id=second.image.pk)
    assert not DuplicatePair.objects.exists()
    assert open_groups() == []

    # But when one of the photos changes (new bytes), the pair is flagged again
    second.image.sha256 = "f" * 64
    second.image.save()
    duplicates_check_image(image_id=second.image.pk)
    assert pair_tier(first, second) == "near_duplicate"
    assert open_groups() == [{first.product.pk, second.product.pk}]


def test_groups_do_not_chain_and_a_left_out_pair_resurfaces_once_its_group_is_resolved(vectors: Vectors) -> None:
    # Given A~B (0.92) and B~C (0.92) but A and C only 0.69 alike (angles 0, t, 2t)
    a_vec = vectors.random()
    direction = vectors.at(a_vec, 0.0)
    angle = np.arccos(0.92)
    b_vec = np.cos(angle) * a_vec + np.sin(angle) * direction
    c_vec = np.cos(2 * angle) * a_vec + np.sin(2 * angle) * direction
    a, b, c = listing(a_vec), listing(b_vec), listing(c_vec)

    # When every photo is checked
    for item in (a, b, c):
        duplicates_check_image(image_id=item.image.pk)

    # Then both pairs are stored but no group holds A and C together
    assert pair_tier(a, b) == pair_tier(b, c) == "near_duplicate"
    assert pair_tier(a, c) is None
    groups = open_groups()
    assert len(groups) == 1 and len(groups[0]) == 2
    assert not {a.product.pk, c.product.pk} <= groups[0]

    # When the group is resolved as not duplicate, the pair left out forms its own group
    group = DuplicateGroup.objects.get(status=GroupStatus.OPEN)
    duplicate_group_resolve(group_id=group.pk, decision="not_duplicate", keep_product_id=None, actor=None)
    left_out = open_groups()
    assert len(left_out) == 1 and b.product.pk in left_out[0] and len(left_out[0]) == 2
    for members in [*open_groups(), groups[0]]:
        assert not {a.product.pk, c.product.pk} <= members


def test_a_group_shows_each_member_against_its_representative(vectors: Vectors) -> None:
    base = vectors.random()
    original = listing(base, content=b"same")
    copy = listing(vectors.at(base, 0.999), content=b"same")
    edited = listing(vectors.at(base, 0.95))

    duplicates_check_image(image_id=edited.image.pk)
    duplicates_check_image(image_id=original.image.pk)

    group = DuplicateGroup.objects.get()
    members = {m.product_id: m for m in DuplicateGroupMember.objects.filter(group=group)}
    assert set(members) == {original.product.pk, copy.product.pk, edited.product.pk}
    representative = members[group.representative_id]
    assert representative.is_representative and representative.similarity == 1.0
    others = [m for m in members.values() if not m.is_representative]
    assert all(m.representative_image_id is not None and m.image_id is not None for m in others)
    assert group.tier == "near_duplicate", "a group's tier is its weakest link to the representative"
    assert group.score == pytest.approx(min(m.similarity for m in others))


def test_a_turned_and_a_greyscale_relisting_of_a_photo_are_found_beyond_the_visual_neighbours(
    vectors: Vectors, settings: Any
) -> None:
    # Given a real photo re-listed turned 90° (similarity 0.55) and in greyscale (0.45), with four
    # look-alikes nearer to it (0.7) than either copy, and a k-NN that only fetches three neighbours
    settings.DUPLICATES_KNN_LIMIT = 3
    catalogue = relistings(vectors)

    # When the original's photo is checked
    stored = duplicates_check_image(image_id=catalogue.original.image.pk)

    # Then both copies are paired with it by their pHashes (the greyscale one is exact, the turned one a
    # near-duplicate), with their visual similarity as evidence; the look-alikes and the rest are not
    assert stored == 2
    assert pair_tier(catalogue.original, catalogue.turned) == "near_duplicate"
    assert pair_tier(catalogue.original, catalogue.greyscale) == "exact"
    pairs = {pair.product_high_id: pair for pair in DuplicatePair.objects.all()}
    turned, grey = pairs[catalogue.turned.product.pk], pairs[catalogue.greyscale.product.pk]
    assert turned.similarity == pytest.approx(0.55, abs=2e-3) and turned.phash_distance is not None
    assert turned.phash_distance <= 4
    assert grey.similarity == pytest.approx(0.45, abs=2e-3) and grey.phash_distance == 0

    # And once the copies are checked too (the turned one matches the greyscale one turned back),
    # the three listings make one group
    duplicates_check_image(image_id=catalogue.turned.image.pk)
    duplicates_check_image(image_id=catalogue.greyscale.image.pk)
    assert pair_tier(catalogue.turned, catalogue.greyscale) == "near_duplicate"
    copies = {catalogue.original.product.pk, catalogue.turned.product.pk, catalogue.greyscale.product.pk}
    assert open_groups() == [copies]


def test_a_turned_copy_is_found_from_its_side_when_the_original_predates_the_turned_hashes(vectors: Vectors) -> None:
    # Given an original stored before photos kept their turned pHashes, and a turned re-listing
    catalogue = relistings(vectors, original_turns=False)

    # When the re-listing is checked (as its upload does), then the original is found through its turns
    duplicates_check_image(image_id=catalogue.turned.image.pk)
    assert pair_tier(catalogue.original, catalogue.turned) == "near_duplicate"
    # and the greyscale copy too: it matches the re-listing turned back
    assert pair_tier(catalogue.turned, catalogue.greyscale) == "near_duplicate"


def test_flat_pictures_sharing_a_hash_are_not_paired_and_unrelated_photos_stay_apart(vectors: Vectors) -> None:
    catalogue = relistings(vectors)
    red, green = catalogue.swatches
    assert red.image.phash == green.image.phash, "the flat pictures' hashes agree, and say nothing"

    assert duplicates_check_image(image_id=red.image.pk) == 0
    assert duplicates_check_image(image_id=catalogue.unrelated.image.pk) == 0
    assert not DuplicatePair.objects.exists()


def test_the_phash_lookup_is_served_by_the_chunk_indexes(vectors: Vectors) -> None:
    # Given a catalogue, when a photo is checked, its pHash lookup is one statement
    catalogue = relistings(vectors)
    with CaptureQueriesContext(connection) as queries:
        duplicates_check_image(image_id=catalogue.original.image.pk)
    [lookup] = [query["sql"] for query in queries.captured_queries if "unnest(" in query["sql"]]

    # that the chunk expression indexes serve (seq scans off: at this size a scan would be cheaper)
    with transaction.atomic(), connection.cursor() as cursor:
        # Plain index scans off too: on a table this small the planner may walk another index
        # (product_id, the primary key) and filter, which says nothing about the lookup's own indexes.
        # Nested loops off as well: with them the planner may start from the products (a bitmap on
        # another index) and probe each one's photos by product_id, again filtering; a hash or merge
        # join needs the photo side found by its own condition, which only the chunk indexes serve.
        cursor.execute("ANALYZE catalog_productimage")
        cursor.execute("ANALYZE catalog_product")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute("EXPLAIN " + lookup)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    for shift in (51, 38, 25, 12, 0):
        assert f"image_phash_chunk_{shift}" in plan, plan
