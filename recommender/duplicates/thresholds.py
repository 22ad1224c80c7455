"""Tiers and per-encoder thresholds for duplicate listings (no Django here).

A pair of photos is put in the strongest tier whose test it passes:

- exact: the same bytes, or perceptual hashes at most `phash_max_distance`
  bits apart (resized or re-encoded copies). A pHash match also needs the
  visual similarity of the "similar" tier, because flat images (a white
  square, a colour swatch) share hashes without being the same product;
- near_duplicate: visual cosine similarity >= `near` (crops, flips, overlays);
- similar: cosine similarity >= `similar` (look-alikes worth a glance).

Cosine similarities are not comparable across encoders, so every encoder
has its own calibrated pair (bench/duplicates_eval.py, BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum


class TierRank(IntEnum):
    """Tiers ordered by strength; the values name the stored `tier` column."""

    SIMILAR = 1
    NEAR_DUPLICATE = 2
    EXACT = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> TierRank:
        return cls[label.upper()]


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


def classify(*, similarity: float, phash_bits: int | None, same_bytes: bool, thresholds: Thresholds) -> TierRank | None:
    """The tier of one photo pair, or None when it is not worth flagging."""
    if same_bytes:
        return TierRank.EXACT
    if similarity < thresholds.similar:
        return None
    if phash_bits is not None and phash_bits <= thresholds.phash_max_distance:
        return TierRank.EXACT
    if similarity >= thresholds.near:
        return TierRank.NEAR_DUPLICATE
    return TierRank.SIMILAR


def parse_threshold_overrides(items: Iterable[str]) -> dict[str, tuple[float, float]]:
    """`["efficientnet-lite0=0.93/0.85", ...]` -> {"efficientnet-lite0": (near, similar)}.

    Raises ValueError naming the bad item, so settings can stop start-up with it.
    """
    parsed: dict[str, tuple[float, float]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        near_text, slash, similar_text = values.partition("/")
        try:
            if not (sep and slash and name.strip()):
                raise ValueError
            near, similar = float(near_text), float(similar_text)
        except ValueError:
            raise ValueError(f"expected ENCODER=NEAR/SIMILAR (e.g. dinov2-base=0.80/0.65), got {item!r}") from None
        if not -1.0 <= similar <= near <= 1.0:
            raise ValueError(f"{item!r}: need -1 <= SIMILAR <= NEAR <= 1")
        parsed[name.strip()] = (near, similar)
    return parsed


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
