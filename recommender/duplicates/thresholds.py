"""Tiers and per-encoder thresholds for duplicate listings (no Django here).

A pair of photos is put in the strongest tier whose test it passes:

- exact: the same bytes, or perceptual hashes at most `phash_max_distance`
  bits apart (resized, re-encoded or greyscale copies). The pHash is evidence on
  its own for every photo but a flat one: a white square and a colour swatch
  share hashes without being the same product (detection.flat_hash), so there a
  match also needs the visual similarity of the "similar" tier;
- near_duplicate: the pHash of one photo turned or mirrored (90° rotations,
  flips) within `phash_max_distance` bits of the other's; or visual cosine
  similarity >= `near` (crops, overlays, padding); or a pHash within
  `phash_near_distance` bits (in any orientation) with similarity >=
  `hashed_similarity` (stickers, text and hue shifts move some bits and some
  similarity, rarely both far); or the same title and brand with similarity >=
  `titled_similarity` (a re-listing keeps its words when a crop, a sticker or a
  new photo moves its pixels; among look-alikes of one category the words are
  the evidence the pixels are not);
- similar: cosine similarity >= `similar` (look-alikes worth a glance).

Cosine similarities are not comparable across encoders, so every encoder
has its own calibrated floors (bench/duplicates_eval.py, BENCHMARKS.md), read
from settings.DUPLICATES_THRESHOLDS (config/env.py parses the overrides).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum


class Tier(IntEnum):
    """The one tier enum: ordered by strength (compare them), stored as `code` in every `tier` column."""

    SIMILAR = 1
    NEAR_DUPLICATE = 2
    EXACT = 3

    @property
    def code(self) -> str:
        """The stored value ("exact", "near_duplicate", "similar"), as the API shows it too."""
        return self.name.lower()

    @property
    def title(self) -> str:
        return _TITLES[self]

    @classmethod
    def from_code(cls, code: str) -> Tier:
        return cls[code.upper()]


_TITLES = {Tier.EXACT: "Exact copy", Tier.NEAR_DUPLICATE: "Near-duplicate", Tier.SIMILAR: "Similar"}
# Strongest first: the order of the model fields' choices and of the API's enum.
TIER_CHOICES = [(tier.code, tier.title) for tier in (Tier.EXACT, Tier.NEAR_DUPLICATE, Tier.SIMILAR)]


@dataclass(frozen=True)
class Thresholds:
    near: float
    similar: float
    phash_max_distance: int
    # A pHash within phash_near_distance bits corroborated by this visual similarity: near-duplicate.
    hashed_similarity: float = 1.0
    phash_near_distance: int = 0
    # The same title and brand corroborated by this visual similarity: near-duplicate (1.0: off).
    titled_similarity: float = 1.0

    def __post_init__(self) -> None:
        if not -1.0 <= self.similar <= self.near <= 1.0:
            raise ValueError(f"need -1 <= similar <= near <= 1, got similar={self.similar} near={self.near}")
        for name in ("hashed_similarity", "titled_similarity"):
            if not -1.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be -1..1, got {getattr(self, name)}")
        for name in ("phash_max_distance", "phash_near_distance"):
            if not 0 <= getattr(self, name) <= 64:
                raise ValueError(f"{name} must be 0..64, got {getattr(self, name)}")


def classify(
    *,
    similarity: float,
    phash_bits: int | None,
    same_bytes: bool,
    thresholds: Thresholds,
    turned_bits: int | None = None,
    flat: bool = False,
    same_listing: bool = False,
) -> Tier | None:
    """The tier of one photo pair, or None when it is not worth flagging.

    phash_bits: Hamming distance of the two pHashes as stored; turned_bits: the
    smallest distance between one photo's pHash and the other's turned or
    mirrored (None when neither photo has its orientations); flat: either photo
    is a flat picture, whose hash says nothing about what it shows; same_listing:
    the two products have the same title and brand (detection.listing_key).
    """
    if same_bytes:
        return Tier.EXACT
    hashed = phash_bits is not None and phash_bits <= thresholds.phash_max_distance
    if hashed and (not flat or similarity >= thresholds.similar):
        return Tier.EXACT
    if flat:
        turned_bits = None
    if turned_bits is not None and turned_bits <= thresholds.phash_max_distance:
        return Tier.NEAR_DUPLICATE
    if similarity >= thresholds.near:
        return Tier.NEAR_DUPLICATE
    closest = min((bits for bits in (None if flat else phash_bits, turned_bits) if bits is not None), default=None)
    if closest is not None and closest <= thresholds.phash_near_distance and similarity >= thresholds.hashed_similarity:
        return Tier.NEAR_DUPLICATE
    if same_listing and similarity >= thresholds.titled_similarity:
        return Tier.NEAR_DUPLICATE
    if similarity >= thresholds.similar:
        return Tier.SIMILAR
    return None


def thresholds_for(
    encoder_name: str,
    table: Mapping[str, Mapping[str, float]],
    *,
    phash_max_distance: int,
    phash_near_distance: int = 0,
) -> Thresholds:
    """The thresholds of one encoder; an encoder without calibration gets the strictest known floors."""
    row = table.get(encoder_name)
    if row is None:
        # Unknown encoder: better to miss look-alikes than to flood the queue.
        keys = ("near", "similar", "hashed", "titled")
        row = {key: max(values.get(key, 1.0) for values in table.values()) for key in keys}
    return Thresholds(
        near=row["near"],
        similar=row["similar"],
        phash_max_distance=phash_max_distance,
        hashed_similarity=row.get("hashed", 1.0),
        phash_near_distance=phash_near_distance,
        titled_similarity=row.get("titled", 1.0),
    )
