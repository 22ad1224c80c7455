"""Calibrate and measure duplicate-listing detection on a labelled set of real photos, offline.

Listings: Fashion-MNIST products (Debian package dataset-fashion-mnist; 28 px, rendered in a
colour on a studio background exactly as the demo catalogue does) and scikit-image /
scikit-learn colour photos. Each original is re-listed with realistic edits, labelled with
the tier we want it flagged in:

- exact:          resized to 60 %, re-encoded at JPEG q30, converted to greyscale
- near_duplicate: crop 80 %, crop 70 %, horizontal flip, 90° and 270° rotations,
                  brightness/contrast, "SALE" text, a round "NEW" sticker, tiled watermark,
                  padded onto a coloured background, hue shift + crop 88 %
- similar:        re-photographed (perspective warp, blur, sensor noise, exposure), and heavy
                  combinations (crop 70 % + flip + text; pad + crop 80 % + brightness)

Negatives are every pair of listings from different originals; the hard ones are different
Fashion-MNIST products of the same category. Pairs of two edits of one original are left
out (their label is ambiguous). Thresholds are chosen on half of the originals (calibration
split) and reported on the other half (test split), with recommender.duplicates' own
`classify` deciding every pair (its photo evidence computed by `photos_of` as
`catalog.imaging.inspect_image` computes it on upload, from the same bytes the service
stores), so the benchmark measures the code that runs.

    apt-get install -y dataset-fashion-mnist
    python -m bench.duplicates_eval --json bench/out/duplicates_eval.json --cache bench/out/duplicates_eval_vectors.npz
    python -m bench.duplicates_eval --relistings 1 ...   # each original re-listed once, the edits taken in turn

Edits and originals: bench/relistings.py. With `--relistings N` each original gets N of the
edits (taken in turn across originals, so every edit is equally represented), which is how a
catalogue looks (a few re-listings among many originals); by default it gets all of them.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import itertools
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from bench.photo_corpus import jpeg
from bench.relistings import EDITS, FASHION_CLASSES, GARMENT_COLOURS, fashion_packshot, relist, sample_photos
from catalog.imaging import hamming_distance, orientation_hashes, perceptual_hash
from embeddings.encoders import EncoderOptions, configure, get_encoder
from recommender.duplicates.detection import Photo, flat_hash, turned_distance
from recommender.duplicates.thresholds import Thresholds, Tier, classify

TIERS = [Tier.EXACT, Tier.NEAR_DUPLICATE, Tier.SIMILAR]
# The precision the duplicate queue must keep (issue 15): calibration maximises recall at or above it.
PRECISION_FLOOR = 0.9


@dataclass(frozen=True)
class Item:
    original: int  # index of the original listing this one derives from
    category: str
    edit: str  # "original" or the edit's name
    label: Tier | None  # the tier this re-listing should be flagged in (None for the original)
    data: bytes


def originals(per_class: int) -> list[tuple[str, Image.Image]]:
    from bench.photo_corpus import FASHION_DIR, read_idx

    images = read_idx(FASHION_DIR / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(FASHION_DIR / "t10k-labels-idx1-ubyte.gz")
    found: list[tuple[str, Image.Image]] = []
    for label, name in enumerate(FASHION_CLASSES):
        for n, index in enumerate(np.flatnonzero(labels == label)[:per_class]):
            colour = GARMENT_COLOURS[(label * 3 + n) % len(GARMENT_COLOURS)]
            found.append((f"fashion:{name}", fashion_packshot(images[index], colour)))
    found += [("photo", image) for image in sample_photos()]
    return found


def build_items(per_class: int, seed: int, relistings: int | None) -> list[Item]:
    rng = np.random.default_rng(seed)
    items: list[Item] = []
    for index, (category, image) in enumerate(originals(per_class)):
        items.append(Item(index, category, "original", None, jpeg(image)))
        chosen = EDITS
        if relistings is not None:
            chosen = tuple(EDITS[(index * relistings + k) % len(EDITS)] for k in range(relistings))
        items.extend(Item(index, category, edit.name, edit.label, data) for edit, data in relist(image, rng, chosen))
    return items


def photos_of(items: list[Item]) -> list[Photo]:
    """Each listing as the detector sees it: the hashes catalog.imaging.inspect_image stores on upload."""
    found = []
    for index, item in enumerate(items):
        image = Image.open(io.BytesIO(item.data)).convert("RGB")
        found.append(
            Photo(
                image_id=index,
                product_id=index,
                product_group="",
                sha256=hashlib.sha256(item.data).hexdigest(),
                phash=perceptual_hash(image),
                phash_turns=orientation_hashes(image),
            )
        )
    return found


@dataclass(frozen=True)
class Pairs:
    """Every evaluated pair: (original listing, its re-listing) positives and cross-original negatives."""

    a: np.ndarray
    b: np.ndarray
    similarity: np.ndarray
    phash_bits: np.ndarray
    turned_bits: np.ndarray
    flat: np.ndarray
    same_bytes: np.ndarray
    label: np.ndarray  # Tier value, 0 for negatives
    split: np.ndarray  # 0 calibration, 1 test (by the originals involved)
    hard: np.ndarray  # negative of two different products of the same Fashion-MNIST category
    # The two listings share title and brand (detection.listing_key); None: the set has no titles.
    same_listing: np.ndarray | None = None


def build_pairs(items: list[Item], vectors: np.ndarray, photos: list[Photo]) -> Pairs:
    rows: list[tuple[int, int, int, int, bool]] = []
    for i, j in itertools.combinations(range(len(items)), 2):
        x, y = items[i], items[j]
        if x.original == y.original:
            if x.edit != "original" and y.edit != "original":
                continue  # two edits of one original: ambiguous label, left out
            edited = y if x.edit == "original" else x
            assert edited.label is not None
            label = int(edited.label)
            hard = False
        else:
            label = 0
            hard = x.category == y.category and x.category.startswith("fashion:")
        split = 1 if (x.original % 2 and y.original % 2) else 0 if (not x.original % 2 and not y.original % 2) else -1
        rows.append((i, j, label, split, hard))
    a = np.array([r[0] for r in rows])
    b = np.array([r[1] for r in rows])
    flat_photo = np.array([photo.phash is not None and flat_hash(photo.phash) for photo in photos])
    return Pairs(
        a=a,
        b=b,
        similarity=np.einsum("nd,nd->n", vectors[a], vectors[b]),
        phash_bits=np.array(
            [hamming_distance(photos[i].phash or 0, photos[j].phash or 0) for i, j in zip(a, b, strict=True)]
        ),
        turned_bits=np.array([turned_distance(photos[i], photos[j]) for i, j in zip(a, b, strict=True)]),
        flat=flat_photo[a] | flat_photo[b],
        same_bytes=np.array([photos[i].sha256 == photos[j].sha256 for i, j in zip(a, b, strict=True)]),
        label=np.array([r[2] for r in rows]),
        split=np.array([r[3] for r in rows]),
        hard=np.array([r[4] for r in rows]),
    )


def predict(pairs: Pairs, mask: np.ndarray, thresholds: Thresholds) -> np.ndarray:
    """The tier recommender.duplicates.thresholds.classify gives each pair (0: not flagged)."""
    out = np.zeros(int(mask.sum()), dtype=int)
    columns = (pairs.similarity, pairs.phash_bits, pairs.turned_bits, pairs.flat, pairs.same_bytes)
    for n, (sim, bits, turned, flat, same) in enumerate(zip(*(column[mask] for column in columns), strict=True)):
        tier = classify(
            similarity=float(sim),
            phash_bits=int(bits),
            same_bytes=bool(same),
            thresholds=thresholds,
            turned_bits=int(turned),
            flat=bool(flat),
        )
        out[n] = int(tier) if tier is not None else 0
    return out


def predict_fast(pairs: Pairs, mask: np.ndarray, t: Thresholds) -> np.ndarray:
    """Vectorised mirror of classify, for the grid search only (the report uses `predict`)."""
    sim, bits, turned = pairs.similarity[mask], pairs.phash_bits[mask], pairs.turned_bits[mask]
    flat, same = pairs.flat[mask], pairs.same_bytes[mask]
    exact = same | ((bits <= t.phash_max_distance) & (~flat | (sim >= t.similar)))
    closest = np.minimum(bits, turned)
    near = ~flat & (
        (turned <= t.phash_max_distance) | ((closest <= t.phash_near_distance) & (sim >= t.hashed_similarity))
    )
    near |= sim >= t.near
    if pairs.same_listing is not None:
        near |= pairs.same_listing[mask] & (sim >= t.titled_similarity)
    return np.where(exact, 3, np.where(near, 2, np.where(sim >= t.similar, 1, 0)))


def _prf(truth: np.ndarray, guess: np.ndarray) -> tuple[float, float, float]:
    hit = int((truth & guess).sum())
    p = hit / guess.sum() if guess.sum() else 1.0
    r = hit / truth.sum() if truth.sum() else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def any_duplicate_scores(label: np.ndarray, predicted: np.ndarray, positives: int) -> tuple[float, float, float]:
    """Precision, recall and F1 of "flagged at any tier" on the searched pairs; recall over all `positives`
    (the pairs a search leaves out as unreachable count as misses)."""
    hit = int(((label > 0) & (predicted > 0)).sum())
    flagged = int((predicted > 0).sum())
    precision = hit / flagged if flagged else 1.0
    recall = hit / positives if positives else 1.0
    return precision, recall, 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def scores(label: np.ndarray, predicted: np.ndarray) -> dict[str, dict[str, float]]:
    def prf(truth: np.ndarray, guess: np.ndarray) -> dict[str, float]:
        p, r, f1 = _prf(truth, guess)
        return {
            "precision": round(p, 4),
            "recall": round(r, 4),
            "f1": round(f1, 4),
            "support": int(truth.sum()),
            "flagged": int(guess.sum()),
        }

    report = {tier.code: prf(label == int(tier), predicted == int(tier)) for tier in TIERS}
    # "At least this tier": what the queue shows when filtered to this tier and stronger.
    for tier in TIERS[1:]:
        report[f"{tier.code}_or_stronger"] = prf(label >= int(tier), predicted >= int(tier))
    report["any_duplicate"] = prf(label > 0, predicted > 0)
    report["macro_f1_tiers"] = {"f1": round(float(np.mean([report[t.code]["f1"] for t in TIERS])), 4)}
    floors = [report["exact"], report["near_duplicate_or_stronger"], report["similar_or_stronger"]]
    report["macro_f1_floors"] = {"f1": round(float(np.mean([row["f1"] for row in floors])), 4)}
    return report


def calibrate(pairs: Pairs, mask: np.ndarray) -> tuple[Thresholds, dict[str, float]]:
    """Thresholds with the best any-duplicate recall on the calibration split at precision >= PRECISION_FLOOR.

    Ties (and the case where no grid point keeps the precision) go to the
    highest mean F1 of the queue's three floors ("exact", "near-duplicate or
    stronger", "similar or stronger"), then to the stricter floors. Scoring the
    floors rather than the strict tiers keeps the choice from hinging on the
    edge between "near-duplicate" and "similar", a matter of taste, not of fact.
    """
    # Pairs no grid point can flag are left out of the search (they are negatives, or misses, either way).
    reachable = mask & (
        (pairs.similarity >= 0.40) | (np.minimum(pairs.phash_bits, pairs.turned_bits) <= 14) | pairs.same_bytes
    )
    label = pairs.label[reachable]
    positives = int((pairs.label[mask] > 0).sum())
    best: tuple[tuple[float, ...], Thresholds, dict[str, float]] | None = None
    for bits in (2, 4):
        for near_bits in (0, 6, 8, 10, 12, 14):
            for hashed in [1.0] if not near_bits else np.arange(0.40, 0.91, 0.05):
                for near in np.arange(0.70, 0.99, 0.01):
                    for similar in np.arange(0.50, near + 1e-9, 0.02):
                        t = Thresholds(
                            near=round(float(near), 2),
                            similar=round(float(similar), 2),
                            phash_max_distance=bits,
                            hashed_similarity=round(float(hashed), 2),
                            phash_near_distance=near_bits,
                        )
                        predicted = predict_fast(pairs, reachable, t)
                        floors = [_prf(label == 3, predicted == 3), _prf(label >= 2, predicted >= 2)]
                        precision, recall, any_f1 = any_duplicate_scores(label, predicted, positives)
                        mean_f1 = float(np.mean([f[2] for f in floors] + [any_f1]))
                        kept = precision >= PRECISION_FLOOR
                        key = (float(kept), recall if kept else 0.0, mean_f1, t.near + t.similar + t.hashed_similarity)
                        if best is None or key > best[0]:
                            summary = {"precision": precision, "recall": recall, "mean_f1_floors": mean_f1}
                            best = (key, t, summary)
    assert best is not None
    return best[1], {name: round(value, 4) for name, value in best[2].items()}


def near_cutoff(pairs: Pairs, items: list[Item], mask: np.ndarray, thresholds: Thresholds) -> list[dict[str, object]]:
    """Test-split pairs within 0.02 of a threshold: what a merchandiser sees at the margin."""
    predicted = predict(pairs, mask, thresholds)
    examples = []
    indices = np.flatnonzero(mask)
    for n, pair_index in enumerate(indices):
        sim = float(pairs.similarity[pair_index])
        if min(abs(sim - thresholds.near), abs(sim - thresholds.similar)) > 0.02:
            continue
        x, y = items[pairs.a[pair_index]], items[pairs.b[pair_index]]
        examples.append(
            {
                "a": f"{x.category} #{x.original} {x.edit}",
                "b": f"{y.category} #{y.original} {y.edit}",
                "similarity": round(sim, 4),
                "phash_bits": int(min(pairs.phash_bits[pair_index], pairs.turned_bits[pair_index])),
                "label": Tier(pairs.label[pair_index]).code if pairs.label[pair_index] else "not_duplicate",
                "predicted": Tier(predicted[n]).code if predicted[n] else "not_flagged",
            }
        )
    # Closest to the near-duplicate floor first, from both sides of it.
    examples.sort(key=lambda e: abs(float(e["similarity"]) - thresholds.near))  # type: ignore[arg-type]
    return examples


def per_edit(pairs: Pairs, items: list[Item], mask: np.ndarray, predicted: np.ndarray) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {}
    for pair_index, guess in zip(np.flatnonzero(mask), predicted, strict=True):
        if pairs.label[pair_index]:
            x, y = items[pairs.a[pair_index]], items[pairs.b[pair_index]]
            edit = y.edit if x.edit == "original" else x.edit
            row = found.setdefault(edit, {"n": 0, "flagged": 0, "in_label_tier": 0})
            row["n"] += 1
            row["flagged"] += int(guess > 0)
            row["in_label_tier"] += int(guess == pairs.label[pair_index])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", default="efficientnet-lite0")
    parser.add_argument("--per-class", type=int, default=6, help="Fashion-MNIST products per category")
    parser.add_argument(
        "--relistings", type=int, default=None, help="edits per original (default: every edit of bench.relistings)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--cache", type=Path, default=None, help="reuse the vectors saved here by an earlier run with the same set"
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=os.environ.get("EMBEDDINGS_MODEL_DIR") or None,
        help="weights as <hub id>/ or <encoder name>/ (default: $EMBEDDINGS_MODEL_DIR, as the worker reads it)",
    )
    args = parser.parse_args()
    configure(EncoderOptions(model_dir=args.model_dir.expanduser() if args.model_dir else None))

    started = time.perf_counter()
    items = build_items(args.per_class, args.seed, args.relistings)
    encoder = get_encoder(args.encoder)
    digest = hashlib.sha256(b"".join(hashlib.sha256(it.data).digest() for it in items)).hexdigest()
    cached = np.load(args.cache) if args.cache and args.cache.exists() else None
    if cached is not None and str(cached["digest"]) == digest and str(cached["encoder"]) == encoder.identity:
        vectors = cached["vectors"]
    else:
        vectors = np.concatenate(
            [encoder.encode_images([it.data for it in items[i : i + 64]]) for i in range(0, len(items), 64)]
        )
        if args.cache:
            args.cache.parent.mkdir(parents=True, exist_ok=True)
            np.savez(args.cache, vectors=vectors, digest=digest, encoder=encoder.identity)
    encoded = time.perf_counter() - started
    pairs = build_pairs(items, vectors.astype(np.float32), photos_of(items))

    calibration, test = pairs.split == 0, pairs.split == 1
    chosen, calibration_scores = calibrate(pairs, calibration)
    predicted_test = predict(pairs, test, chosen)
    report: dict[str, object] = {
        "encoder": encoder.identity,
        "originals": len({it.original for it in items}),
        "listings": len(items),
        "relistings_per_original": args.relistings or len(EDITS),
        "pairs_test": int(test.sum()),
        "positives_test": int((pairs.label[test] > 0).sum()),
        "hard_negatives_test": int((pairs.hard & test).sum()),
        "thresholds": {
            "near": chosen.near,
            "similar": chosen.similar,
            "phash_max_distance": chosen.phash_max_distance,
            "hashed_similarity": chosen.hashed_similarity,
            "phash_near_distance": chosen.phash_near_distance,
        },
        "calibration": calibration_scores,
        "test": scores(pairs.label[test], predicted_test),
        "test_hard_negatives_flagged": int((predict(pairs, pairs.hard & test, chosen) > 0).sum()),
        "test_per_edit": per_edit(pairs, items, test, predicted_test),
        "near_cutoff_examples": near_cutoff(pairs, items, test, chosen)[:16],
        "encode_seconds": round(encoded, 1),
    }
    report["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
