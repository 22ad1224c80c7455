"""Tiers and per-encoder thresholds for duplicate listings (no Django here).

A pair of photos is put in the strongest tier whose test it passes:

- exact: the same bytes, or perceptual hashes at most `phash_max_distance`
  bits apart (resized or re-encoded copies). A pHash match also needs the
  visual similarity of the "similar" tier, because flat images (a white
  square, a colour swatch) share hashes without being the same product;
- near_duplicate: visual cosine similarity >= `near` (crops, flips, overlays);
- similar: cosine similarity >= `similar` (look-alikes worth a glance).

Cosine similarities are not comparable across encoders, so every encoder
has its own calibrated pair (bench/duplicates_eval.py, BENCHMARKS.md), read
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

    def __post_init__(self) -> None:
        if not -1.0 <= self.similar <= self.near <= 1.0:
            raise ValueError(f"need -1 <= similar <= near <= 1, got similar={self.similar} near={self.near}")
        if not 0 <= self.phash_max_distance <= 64:
            raise ValueError(f"phash_max_distance must be 0..64, got {self.phash_max_distance}")


def classify(*, similarity: float, phash_bits: int | None, same_bytes: bool, thresholds: Thresholds) -> Tier | None:
    """The tier of one photo pair, or None when it is not worth flagging."""
    if same_bytes:
        return Tier.EXACT
    if similarity < thresholds.similar:
        return None
    if phash_bits is not None and phash_bits <= thresholds.phash_max_distance:
        return Tier.EXACT
    if similarity >= thresholds.near:
        return Tier.NEAR_DUPLICATE
    return Tier.SIMILAR


def thresholds_for(
    encoder_name: str, table: Mapping[str, Mapping[str, float]], *, phash_max_distance: int
) -> Thresholds:
    """The thresholds of one encoder; an encoder without calibration gets the strictest known pair."""
    row = table.get(encoder_name)
    if row is None:
        # Unknown encoder: better to miss look-alikes than to flood the queue.
        near = max(values["near"] for values in table.values())
        similar = max(values["similar"] for values in table.values())
        return Thresholds(near=near, similar=similar, phash_max_distance=phash_max_distance)
    return Thresholds(near=row["near"], similar=row["similar"], phash_max_distance=phash_max_distance)
