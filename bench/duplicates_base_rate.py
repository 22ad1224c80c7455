"""The duplicate tiers at a catalogue's base rate: every pair of the demo catalogue, a few planted re-listings.

bench/duplicates_eval.py calibrates on a balanced set (each original beside its
edits, a few hundred negatives per positive). A shop is not balanced: 2,000
products make two million pairs, and the demo's Fashion-MNIST garments of one
category look alike at 28 px, so a floor that keeps 0.9 precision there can
still flood the queue here. This reads the catalogue `python -m bench.quality`
built (lookalike_quality: the demo catalogue plus 68 re-listings with
greyscale, turned, hue-shifted, cropped, stickered and re-photographed photos),
computes every pair's evidence as recommender.duplicates.detection does
(visual cosine of the photos' stored vectors, pHash bits plain and turned, flat
photos, same bytes; variants never pair), and searches the thresholds for the
best recall at pair precision >= 0.9 over all pairs, on half the re-listings,
reported on the other half.

    python -m bench.quality && python -m bench.duplicates_base_rate --json bench/out/duplicates_base_rate.json
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.db import setup_django
from bench.duplicates_eval import PRECISION_FLOOR, Pairs, _prf, any_duplicate_scores, predict_fast

GRID_BITS = (0, 2, 4)
GRID_NEAR_BITS = (0, 8, 12)
GRID_TITLED = (1.0, 0.9, 0.85, 0.8, 0.75, 0.7)
FRONTIER = (0.4, 0.5, 0.7, 0.8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="lookalike_quality")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    setup_django(database=args.database, redis_db=6)
    pairs, n_photos = catalogue_pairs()
    calibration, test = pairs.split == 0, pairs.split == 1
    points = grid(pairs, calibration)  # the grid is scored once; each floor picks from it
    chosen = search(points)
    report = {
        "photos": n_photos,
        "pairs": int(pairs.label.size),
        "planted": int((pairs.label > 0).sum()),
        "chosen": chosen,
        "calibration_split": evaluate(pairs, calibration, chosen),
        "test_split": evaluate(pairs, test, chosen),
        # The thresholds the settings give now, on every pair.
        "current_settings": evaluate(pairs, np.ones(pairs.label.size, dtype=bool), current()),
    }
    # What a looser floor would buy: the same search at lower precision floors.
    frontier: dict[str, object] = {}
    for floor in FRONTIER:
        looser = search(points, floor)
        frontier[str(floor)] = {"chosen": looser, "test_split": evaluate(pairs, test, looser)}
    report["frontier"] = frontier
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2)
    print(json.dumps(report, indent=2))


def current() -> dict[str, float]:
    from recommender.duplicates.selectors import thresholds_for_encoder, visual_encoder

    encoder = visual_encoder()
    assert encoder is not None, "no active visual encoder: run python -m bench.quality first"
    t = thresholds_for_encoder(encoder)
    return {"near": t.near, "similar": t.similar, "hashed": t.hashed_similarity,
            "bits": t.phash_max_distance, "near_bits": t.phash_near_distance,
            "titled": t.titled_similarity}  # fmt: skip


def catalogue_pairs() -> tuple[Pairs, int]:
    """Every pair of photos of two different listings that are not variants of one another."""
    from catalog.models import ProductImage
    from embeddings.models import ImageVector
    from embeddings.selectors import active_encoder
    from recommender.duplicates.detection import flat_hash, listing_key

    encoder = active_encoder("visual")
    assert encoder is not None, "no active visual encoder: run python -m bench.quality first"
    rows = list(
        ProductImage.objects.filter(embedding_status="done")
        .order_by("id")
        .values_list(
            "id",
            "product_id",
            "product__product_group",
            "product__sku",
            "sha256",
            "phash",
            "phash_turns",
            "product__title",
            "product__brand",
        )
    )
    vectors = dict(
        ImageVector.objects.filter(space="visual", encoder=encoder.identity).values_list("image_id", "embedding")
    )
    rows = [row for row in rows if row[0] in vectors]
    matrix = np.array([vectors[row[0]] for row in rows], dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    hashes = np.array([(row[5] or 0) & 0xFFFFFFFFFFFFFFFF for row in rows], dtype=np.uint64)
    width = max(len(row[6] or []) for row in rows)
    turns = np.array([[(t & 0xFFFFFFFFFFFFFFFF) for t in (row[6] or [])] + [row[5] or 0] * (width - len(row[6] or []))
                      for row in rows], dtype=np.uint64)  # fmt: skip
    sku_ids = {row[3]: row[1] for row in rows}
    # A re-listing's original, by SKU (bench.quality names copies RELIST-<original sku>).
    original = np.array([sku_ids.get(row[3].removeprefix("RELIST-"), row[1]) for row in rows])
    planted = np.array([row[3].startswith("RELIST-") for row in rows])
    n = len(rows)
    a, b = np.triu_indices(n, k=1)
    groups = np.array([row[2] or f"#{row[1]}" for row in rows])
    keep = (groups[a] != groups[b]) & (np.array([r[1] for r in rows])[a] != np.array([r[1] for r in rows])[b])
    a, b = a[keep], b[keep]
    bits = np.bitwise_count(hashes[a] ^ hashes[b]).astype(np.int16)
    turned = np.minimum(
        np.bitwise_count(hashes[a, None] ^ turns[b]).min(axis=1),
        np.bitwise_count(hashes[b, None] ^ turns[a]).min(axis=1),
    ).astype(np.int16)
    flat = np.array([flat_hash(int(h)) for h in hashes])
    positive = (original[a] == original[b]) & (planted[a] | planted[b])
    edit_tier = _planted_tiers(rows)
    label = np.where(positive, np.maximum(edit_tier[a], edit_tier[b]), 0)
    # Split by the original: both listings' originals even → calibration, both odd → test, else left out.
    parity_a, parity_b = original[a] % 2, original[b] % 2
    split = np.where(parity_a == parity_b, parity_a, -1)
    shas = np.array([row[4] for row in rows])
    listings = np.array([listing_key(row[7], row[8]) for row in rows])
    return Pairs(
        a=a, b=b, similarity=np.einsum("nd,nd->n", matrix[a], matrix[b]), phash_bits=bits, turned_bits=turned,
        flat=flat[a] | flat[b], same_bytes=(shas[a] == shas[b]) & (shas[a] != ""), label=label, split=split,
        hard=np.zeros(a.size, dtype=bool), same_listing=(listings[a] == listings[b]) & (listings[a] != ""),
    ), n  # fmt: skip


def _planted_tiers(rows: Sequence[Sequence[Any]]) -> np.ndarray:
    """The tier each re-listing's edit is labelled with (bench.quality's build order), 0 for originals."""
    from bench.relistings import EDITS

    tiers = np.zeros(len(rows), dtype=int)
    copies = [i for i, row in enumerate(rows) if str(row[3]).startswith("RELIST-")]
    for n, i in enumerate(sorted(copies, key=lambda i: int(rows[i][1]))):
        tiers[i] = int(EDITS[n % len(EDITS)].label)
    return tiers


def _thresholds(near: float, similar: float, hashed: float, bits: int, near_bits: int, titled: float = 1.0) -> object:
    from recommender.duplicates.thresholds import Thresholds

    return Thresholds(near=near, similar=similar, phash_max_distance=bits, hashed_similarity=hashed,
                      phash_near_distance=near_bits, titled_similarity=titled)  # fmt: skip


def evaluate(pairs: Pairs, mask: np.ndarray, chosen: dict[str, float]) -> dict[str, float]:
    t = _thresholds(
        chosen["near"], chosen["similar"], chosen["hashed"], int(chosen["bits"]), int(chosen["near_bits"]),
        chosen.get("titled", 1.0),
    )  # fmt: skip
    predicted = predict_fast(pairs, mask, t)  # type: ignore[arg-type]
    label = pairs.label[mask]
    precision, recall, f1 = _prf(label > 0, predicted > 0)
    return {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3),
            "flagged": int((predicted > 0).sum()), "positives": int((label > 0).sum())}  # fmt: skip


Point = tuple[dict[str, float], float, float, float]  # thresholds, precision, recall, F1


def search(points: list[Point], floor: float = PRECISION_FLOOR) -> dict[str, float]:
    """The best recall at precision >= floor (ties: the higher F1, then the stricter floors)."""

    def key(point: Point) -> tuple[float, ...]:
        chosen, precision, recall, f1 = point
        kept = precision >= floor
        return (float(kept), recall if kept else 0.0, f1, chosen["near"] + chosen["similar"] + chosen["hashed"])

    return max(points, key=key)[0]


def grid(pairs: Pairs, mask: np.ndarray) -> list[Point]:
    """Precision, recall and F1 of every grid point on `mask`'s pairs."""
    close = (pairs.similarity >= 0.75) | (np.minimum(pairs.phash_bits, pairs.turned_bits) <= 12)
    titled = pairs.same_listing if pairs.same_listing is not None else np.zeros_like(close)
    reachable = mask & (close | (titled & (pairs.similarity >= min(GRID_TITLED))))
    label = pairs.label[reachable]
    positives = int((pairs.label[mask] > 0).sum())
    results = []
    for bits in GRID_BITS:
        for near_bits in GRID_NEAR_BITS:
            for hashed in [1.0] if not near_bits else (0.75, 0.85, 0.95):
                # The similar floor a gap below the near one; 0: no separate similar tier.
                for near, gap, titled_floor in itertools.product(
                    np.arange(0.85, 1.0001, 0.01), (0.0, 0.02, 0.05), GRID_TITLED
                ):
                    chosen = {"near": round(float(near), 2), "similar": round(float(near - gap), 2),
                              "hashed": round(float(hashed), 2), "bits": bits, "near_bits": near_bits,
                              "titled": titled_floor}  # fmt: skip
                    predicted = predict_fast(pairs, reachable, _thresholds(**chosen))  # type: ignore[arg-type]
                    results.append((chosen, *any_duplicate_scores(label, predicted, positives)))
    return results


if __name__ == "__main__":
    main()
