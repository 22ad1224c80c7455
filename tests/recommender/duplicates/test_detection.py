"""Tiers, variants and grouping without a database: the rules both the upload check and the scan use."""

from __future__ import annotations

import pytest

from recommender.duplicates.detection import Photo, compare, strongest_per_pair
from recommender.duplicates.grouping import Edge, complete_linkage_groups
from recommender.duplicates.thresholds import Thresholds, Tier, thresholds_for

THRESHOLDS = Thresholds(near=0.9, similar=0.8, phash_max_distance=6)


def photo(product: int, *, image: int | None = None, sha: str = "", phash: int | None = None, group: str = "") -> Photo:
    return Photo(image_id=image or product * 10, product_id=product, product_group=group, sha256=sha, phash=phash)


def test_same_bytes_are_an_exact_copy_whatever_the_vectors_say() -> None:
    evidence = compare(photo(1, sha="ab"), photo(2, sha="ab"), similarity=0.1, thresholds=THRESHOLDS)
    assert evidence is not None and evidence.tier == Tier.EXACT and evidence.same_bytes


def test_close_perceptual_hashes_make_an_exact_copy_only_when_the_photos_also_look_alike() -> None:
    # Hashes 3 bits apart (one negative, as stored signed).
    a, b = -8_070_450_532_247_928_832, -8_070_450_532_247_928_832 ^ 0b111
    resized = compare(photo(1, phash=a), photo(2, phash=b), similarity=0.85, thresholds=THRESHOLDS)
    flat_swatch = compare(photo(1, phash=a), photo(3, phash=b), similarity=0.5, thresholds=THRESHOLDS)
    assert resized is not None and resized.tier == Tier.EXACT and resized.phash_distance == 3
    assert flat_swatch is None


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
