"""recommender.duplicates.thresholds: the tier rules on their own, and the floors each encoder gets."""

from __future__ import annotations

import pytest

from recommender.duplicates.detection import listing_key
from recommender.duplicates.thresholds import Thresholds, Tier, classify, thresholds_for

# The shipped efficientnet-lite0 calibration (config/settings.py, BENCHMARKS.md).
LITE = Thresholds(near=0.85, similar=0.82, phash_max_distance=4, hashed_similarity=0.75, phash_near_distance=12)


def tier(
    similarity: float,
    *,
    bits: int | None = None,
    turned: int | None = None,
    flat: bool = False,
    same_bytes: bool = False,
    thresholds: Thresholds = LITE,
) -> Tier | None:
    return classify(
        similarity=similarity,
        phash_bits=bits,
        same_bytes=same_bytes,
        thresholds=thresholds,
        turned_bits=turned,
        flat=flat,
    )


@pytest.mark.parametrize("similarity", [0.1, 0.5, 0.81, 0.95])
def test_a_close_phash_of_a_photo_is_an_exact_copy_whatever_the_visual_similarity(similarity: float) -> None:
    # A greyscale copy can sit at 0.5 in a CNN's space; its pHash does not move.
    assert tier(similarity, bits=4) == Tier.EXACT
    assert tier(similarity, bits=0) == Tier.EXACT


def test_same_bytes_are_exact_even_for_a_flat_picture() -> None:
    assert tier(-0.2, same_bytes=True, flat=True) == Tier.EXACT


def test_a_flat_picture_needs_the_similar_floor_for_its_hash_to_count() -> None:
    # Given two flat pictures (a white frame, a colour swatch) with the same hash
    assert tier(0.5, bits=0, flat=True) is None
    assert tier(0.81, bits=0, flat=True) is None
    assert tier(0.82, bits=0, flat=True) == Tier.EXACT
    # and their turned hashes or a hash a few bits off say nothing either
    assert tier(0.5, bits=3, turned=0, flat=True) is None
    assert tier(0.80, bits=10, flat=True) is None


def test_a_turned_or_mirrored_hash_makes_a_near_duplicate_not_an_exact_copy() -> None:
    assert tier(0.55, bits=30, turned=0) == Tier.NEAR_DUPLICATE
    assert tier(0.10, bits=30, turned=4) == Tier.NEAR_DUPLICATE
    assert tier(0.10, bits=30, turned=5) is None
    # Both close (a symmetric product): the plain hash wins.
    assert tier(0.60, bits=1, turned=0) == Tier.EXACT


def test_the_hashed_floor_makes_a_near_duplicate_of_a_close_hash_with_some_similarity() -> None:
    # A sticker or a hue shift with a crop moves some bits and some similarity.
    assert tier(0.75, bits=12) == Tier.NEAR_DUPLICATE
    assert tier(0.78, bits=30, turned=9) == Tier.NEAR_DUPLICATE, "a turned hash counts too"
    assert tier(0.74, bits=12) is None, "below the hashed floor and the similar floor"
    assert tier(0.80, bits=13) is None, "too many bits for the hashed rule"
    assert tier(0.83, bits=13) == Tier.SIMILAR
    assert tier(0.86, bits=40) == Tier.NEAR_DUPLICATE, "the visual near floor alone"


def test_without_a_hashed_floor_the_rule_is_off() -> None:
    plain = Thresholds(near=0.85, similar=0.82, phash_max_distance=4, phash_near_distance=12)
    assert tier(0.80, bits=8, thresholds=plain) is None
    assert tier(0.99, bits=8, thresholds=plain) == Tier.NEAR_DUPLICATE


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"near": 0.7, "similar": 0.8}, "need -1 <= similar <= near <= 1"),
        ({"hashed_similarity": 1.5}, "hashed_similarity must be -1..1"),
        ({"phash_near_distance": 65}, "phash_near_distance must be 0..64"),
        ({"phash_max_distance": -1}, "phash_max_distance must be 0..64"),
    ],
)
def test_impossible_thresholds_are_refused(fields: dict[str, float], message: str) -> None:
    values = {"near": 0.85, "similar": 0.82, "phash_max_distance": 4, **fields}
    with pytest.raises(ValueError, match=message):
        Thresholds(**values)  # type: ignore[arg-type]


TABLE = {
    "efficientnet-lite0": {"near": 0.85, "similar": 0.82, "hashed": 0.75},
    "dinov2-base": {"near": 0.88, "similar": 0.70},
}


def test_a_calibrated_encoder_gets_its_own_floors() -> None:
    lite = thresholds_for("efficientnet-lite0", TABLE, phash_max_distance=4, phash_near_distance=12)
    assert lite == LITE
    dino = thresholds_for("dinov2-base", TABLE, phash_max_distance=4, phash_near_distance=12)
    assert (dino.near, dino.similar, dino.hashed_similarity) == (0.88, 0.70, 1.0), "no HASHED: the rule is off"


def test_an_unknown_encoder_gets_the_strictest_floors_of_every_calibrated_one() -> None:
    unknown = thresholds_for("sscd-disc", TABLE, phash_max_distance=4, phash_near_distance=12)
    assert (unknown.near, unknown.similar) == (0.88, 0.82)
    assert unknown.hashed_similarity == 1.0, "an encoder without HASHED makes the strictest one 'off'"
    both = {**TABLE, "dinov2-base": {**TABLE["dinov2-base"], "hashed": 0.8}}
    assert thresholds_for("sscd-disc", both, phash_max_distance=4).hashed_similarity == 0.8


def test_the_same_title_and_brand_make_a_near_duplicate_only_above_the_titled_floor() -> None:
    t = Thresholds(near=0.95, similar=0.95, phash_max_distance=2, titled_similarity=0.8)

    def tier(similarity: float, same_listing: bool) -> Tier | None:
        return classify(
            similarity=similarity,
            phash_bits=30,
            same_bytes=False,
            thresholds=t,
            turned_bits=30,
            same_listing=same_listing,
        )

    assert tier(0.85, True) == Tier.NEAR_DUPLICATE
    assert tier(0.85, False) is None, "look-alike words are the evidence"
    assert tier(0.7, True) is None, "words alone are not a copy"


def test_listing_keys_fold_case_and_spacing_and_an_empty_title_matches_nothing() -> None:
    assert listing_key("Red  Cotton dress", "Northwind") == listing_key("red cotton DRESS ", "northwind")
    assert listing_key("Red cotton dress", "Northwind") != listing_key("Red cotton dress", "Kestrel")
    assert listing_key("  ", "Northwind") == ""
