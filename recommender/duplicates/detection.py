"""Turning "these two photos are k-NN neighbours" into evidence of a duplicate listing (no Django).

Shared by the per-upload check and the full-catalog scan so both flag the
same pairs for the same reasons.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache

from PIL import Image

from catalog.imaging import hamming_distance, perceptual_hash
from recommender.duplicates.thresholds import Thresholds, Tier, classify

# A photo whose pHash is this close to a flat picture's is a flat picture (a blank frame, a swatch):
# measured, JPEG colour swatches land on those hashes exactly and real photos 16 bits away or more.
FLAT_HASH_BITS = 4


@dataclass(frozen=True)
class Photo:
    image_id: int
    product_id: int
    product_group: str  # "" when the product has no variants
    sha256: str
    phash: int | None
    phash_turns: tuple[int, ...] = ()  # the pHashes of its other orientations (catalog.imaging.orientation_hashes)
    listing: str = ""  # its product's title and brand as listing_key spells them ("" when unknown)


@dataclass(frozen=True)
class PairEvidence:
    product_low: int
    product_high: int
    image_low: int  # the photo of product_low that was compared
    image_high: int
    tier: Tier
    similarity: float
    phash_distance: int | None
    same_bytes: bool

    @property
    def key(self) -> tuple[int, int]:
        return (self.product_low, self.product_high)

    @property
    def strength(self) -> tuple[int, float]:
        return (int(self.tier), self.similarity)


@cache
def flat_hash_values() -> frozenset[int]:
    """The pHashes of flat pictures: one per grey level (a DCT of a constant is rounding noise, not a picture)."""
    return frozenset(perceptual_hash(Image.new("L", (32, 32), level)) for level in range(256))


# Asked for both photos of every compared pair (tens per upload, each against ~114 flat hashes):
# a photo's answer never changes, so it is remembered.
@lru_cache(maxsize=65536)
def flat_hash(phash: int) -> bool:
    return any(hamming_distance(phash, flat) <= FLAT_HASH_BITS for flat in flat_hash_values())


def listing_key(title: str, brand: str) -> str:
    """A product's title and brand, case and spacing folded: a re-listing usually keeps both word for word."""
    return " ".join(f"{title} | {brand}".lower().split()) if title.strip() else ""


def turned_distance(a: Photo, b: Photo) -> int | None:
    """The fewest bits between one photo's pHash and one of the other's orientations; None if neither has them.

    The orientations form a group, so one photo's are enough: if b is a turned a, a is b turned back.
    """
    distances = [
        hamming_distance(x.phash, turn) for x, y in ((a, b), (b, a)) if x.phash is not None for turn in y.phash_turns
    ]
    return min(distances, default=None)


def compare(a: Photo, b: Photo, *, similarity: float, thresholds: Thresholds) -> PairEvidence | None:
    """Evidence that the listings of photos `a` and `b` are duplicates, or None.

    Photos of one product, and of variants sharing a non-empty product_group,
    are never duplicates of each other.
    """
    if a.product_id == b.product_id or (a.product_group and a.product_group == b.product_group):
        return None
    same_bytes = a.sha256 == b.sha256 and bool(a.sha256)
    bits = None if a.phash is None or b.phash is None else hamming_distance(a.phash, b.phash)
    turned = turned_distance(a, b)
    flat = any(photo.phash is not None and flat_hash(photo.phash) for photo in (a, b))
    tier = classify(
        similarity=similarity,
        phash_bits=bits,
        same_bytes=same_bytes,
        thresholds=thresholds,
        turned_bits=turned,
        flat=flat,
        same_listing=bool(a.listing) and a.listing == b.listing,
    )
    if tier is None:
        return None
    low, high = (a, b) if a.product_id < b.product_id else (b, a)
    return PairEvidence(
        product_low=low.product_id,
        product_high=high.product_id,
        image_low=low.image_id,
        image_high=high.image_id,
        tier=tier,
        similarity=min(1.0, max(-1.0, similarity)),
        # The evidence shown to a merchandiser: the closest hashes, turned or not.
        phash_distance=min((d for d in (bits, turned) if d is not None), default=None),
        same_bytes=same_bytes,
    )


def strongest_per_pair(evidence: Iterable[PairEvidence]) -> dict[tuple[int, int], PairEvidence]:
    """One piece of evidence per pair of products: the strongest tier, then the highest similarity."""
    best: dict[tuple[int, int], PairEvidence] = {}
    for item in evidence:
        current = best.get(item.key)
        if current is None or item.strength > current.strength:
            best[item.key] = item
    return best
