"""Tiers, variants and grouping without a database: the rules both the upload check and the scan use."""

from __future__ import annotations

import pytest
import skimage.data
from PIL import Image

from catalog.imaging import orientation_hashes, perceptual_hash
from recommender.duplicates.detection import Photo, compare, flat_hash, strongest_per_pair, turned_distance
from recommender.duplicates.grouping import Edge, complete_linkage_groups
from recommender.duplicates.thresholds import Thresholds, Tier, thresholds_for

THRESHOLDS = Thresholds(near=0.9, similar=0.8, phash_max_distance=6)


def photo(
    product: int,
    *,
    image: int | None = None,
    sha: str = "",
    phash: int | None = None,
    group: str = "",
    turns: tuple[int, ...] = (),
) -> Photo:
    return Photo(
        image_id=image or product * 10,
        product_id=product,
        product_group=group,
        sha256=sha,
        phash=phash,
        phash_turns=turns,
    )


def hashed(product: int, picture: Image.Image) -> Photo:
    return photo(product, phash=perceptual_hash(picture), turns=orientation_hashes(picture))


def test_same_bytes_are_an_exact_copy_whatever_the_vectors_say() -> None:
    evidence = compare(photo(1, sha="ab"), photo(2, sha="ab"), similarity=0.1, thresholds=THRESHOLDS)
    assert evidence is not None and evidence.tier == Tier.EXACT and evidence.same_bytes


def test_close_perceptual_hashes_of_flat_pictures_make_an_exact_copy_only_when_they_also_look_alike() -> None:
    # Hashes 3 bits apart (one negative, as stored signed), near a flat picture's (detection.flat_hash).
    a, b = -8_070_450_532_247_928_832, -8_070_450_532_247_928_832 ^ 0b111
    resized = compare(photo(1, phash=a), photo(2, phash=b), similarity=0.85, thresholds=THRESHOLDS)
    flat_swatch = compare(photo(1, phash=a), photo(3, phash=b), similarity=0.5, thresholds=THRESHOLDS)
    assert resized is not None and resized.tier == Tier.EXACT and resized.phash_distance == 3
    assert flat_swatch is None


def test_flat_pictures_are_told_from_photos_by_their_hash() -> None:
    assert flat_hash(-8_070_450_532_247_928_832)
    for colour in [(255, 255, 255), (200, 30, 40), (12, 80, 200)]:
        assert flat_hash(perceptual_hash(Image.new("RGB", (200, 150), colour))), colour
    for name in ["astronaut", "coffee", "chelsea", "rocket", "camera"]:
        assert not flat_hash(perceptual_hash(Image.fromarray(getattr(skimage.data, name)()))), name


def test_a_turned_copy_of_a_photo_is_a_near_duplicate_with_its_turned_distance_as_evidence() -> None:
    # Given a photograph and a re-listing of it turned a quarter, which a CNN places far away
    astronaut = Image.fromarray(skimage.data.astronaut())
    original, turned = hashed(1, astronaut), hashed(2, astronaut.transpose(Image.Transpose.ROTATE_270))

    # Then one is within a few bits of the other in some orientation, either way round
    assert turned_distance(original, turned) == turned_distance(turned, original)
    distance = turned_distance(original, turned)
    assert distance is not None and distance <= 2
    evidence = compare(original, turned, similarity=0.55, thresholds=THRESHOLDS)
    assert evidence is not None and evidence.tier == Tier.NEAR_DUPLICATE
    assert evidence.phash_distance == distance, "the evidence shown is the closest hash, turned or not"
    # A photo stored before the turns were kept still matches through the other one's turns
    legacy = photo(1, phash=original.phash)
    assert turned_distance(legacy, turned) == distance
    assert turned_distance(photo(3, phash=1), photo(4, phash=2)) is None


def test_a_greyscale_copy_is_exact_on_its_hash_and_an_unrelated_photo_is_not_paired() -> None:
    coffee = Image.fromarray(skimage.data.coffee())
    grey = compare(hashed(1, coffee), hashed(2, coffee.convert("L")), similarity=0.45, thresholds=THRESHOLDS)
    assert grey is not None and grey.tier == Tier.EXACT and grey.phash_distance == 0
    other = hashed(3, Image.fromarray(skimage.data.chelsea()))
    assert compare(hashed(1, coffee), other, similarity=0.45, thresholds=THRESHOLDS) is None


@pytest.mark.parametrize(
    ("similarity", "tier"),
    [(0.95, Tier.NEAR_DUPLICATE), (0.9, Tier.NEAR_DUPLICATE), (0.85, Tier.SIMILAR), (0.79, None)],
)
def test_visual_similarity_picks_the_tier(similarity: float, tier: Tier | None) -> None:
    evidence = compare(photo(1), photo(2), similarity=similarity, thresholds=THRESHOLDS)
    assert (evidence.tier if evidence else None) == tier


def test_variants_of_one_product_group_and_photos_of_one_product_are_never_duplicates() -> None:
    assert compare(photo(1, group="tee"), photo(2, group="tee"), similarity=1.0, thresholds=THRESHOLDS) is None
    assert compare(photo(1, image=1), photo(1, image=2), similarity=1.0, thresholds=THRESHOLDS) is None
    assert compare(photo(1, group="tee"), photo(2, group="mug"), similarity=0.95, thresholds=THRESHOLDS) is not None


def test_evidence_is_ordered_by_product_and_the_strongest_per_pair_wins() -> None:
    weak = compare(photo(9, image=91), photo(4, image=41), similarity=0.85, thresholds=THRESHOLDS)
    strong = compare(photo(4, image=42), photo(9, image=92), similarity=0.93, thresholds=THRESHOLDS)
    assert weak is not None and strong is not None
    assert (weak.product_low, weak.image_low) == (4, 41)
    assert strongest_per_pair([weak, strong]) == {(4, 9): strong}


def test_a_chain_of_look_alikes_does_not_make_one_group() -> None:
    # Given A~B and B~C but A and C not alike
    edges = {(1, 2): Edge(2, 0.92), (2, 3): Edge(2, 0.91)}
    # When grouped
    groups = complete_linkage_groups(edges)
    # Then A and C never share a group, and every group is a clique
    assert [set(g.members) for g in groups] == [{1, 2}], "the stronger link wins; 3 waits for its own group"
    assert all(not {1, 3} <= set(g.members) for g in groups)


def test_a_clique_becomes_one_group_led_by_its_most_central_member() -> None:
    edges = {
        (1, 2): Edge(3, 1.0),
        (1, 3): Edge(2, 0.93),
        (2, 3): Edge(2, 0.91),
        (3, 4): Edge(1, 0.82),  # 4 is alike only to 3: it stays out
    }
    groups = complete_linkage_groups(edges)
    assert len(groups) == 1
    assert set(groups[0].members) == {1, 2, 3}
    assert groups[0].representative == 1


def test_an_uncalibrated_encoder_gets_the_strictest_known_thresholds() -> None:
    table = {"a": {"near": 0.9, "similar": 0.8}, "b": {"near": 0.85, "similar": 0.7}}
    assert thresholds_for("b", table, phash_max_distance=4) == Thresholds(0.85, 0.7, 4)
    assert thresholds_for("new", table, phash_max_distance=4) == Thresholds(0.9, 0.8, 4)
