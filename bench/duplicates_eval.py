"""Calibrate and measure duplicate-listing detection on a labelled set of real photos, offline.

Listings: Fashion-MNIST products (Debian package dataset-fashion-mnist; 28 px, upscaled and
inverted onto white like a packshot) and scikit-image / scikit-learn colour photos. Each
original is re-listed with realistic edits, labelled with the tier we want it flagged in:

- exact:          resized to 60 %, re-encoded at JPEG q30
- near_duplicate: crop 80 %, crop 70 %, horizontal flip, brightness/contrast, "SALE" text,
                  tiled watermark, padded onto a coloured background
- similar:        heavy combinations (crop 70 % + flip + text; pad + crop 80 % + brightness)

Negatives are every pair of listings from different originals; the hard ones are different
Fashion-MNIST products of the same category. Pairs of two edits of one original are left
out (their label is ambiguous). Thresholds are chosen on half of the originals (calibration
split) and reported on the other half (test split), with recommender.duplicates' own
`classify` deciding every pair, so the benchmark measures the code that runs.

    apt-get install -y dataset-fashion-mnist
    python -m bench.duplicates_eval --json bench/out/duplicates_eval.json --cache bench/out/duplicates_eval_vectors.npz
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
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

from bench.photo_corpus import FASHION_DIR, jpeg, read_idx
from catalog.imaging import hamming_distance, perceptual_hash
from embeddings.encoders import EncoderOptions, configure, get_encoder
from recommender.duplicates.thresholds import Thresholds, Tier, classify

FASHION_CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]
PHOTO_NAMES = [
    "astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "retina", "hubble_deep_field",
    "camera", "clock", "coins", "moon",
]  # fmt: skip
TIERS = [Tier.EXACT, Tier.NEAR_DUPLICATE, Tier.SIMILAR]


@dataclass(frozen=True)
class Item:
    original: int  # index of the original listing this one derives from
    category: str
    edit: str  # "original" or the edit's name
    label: Tier | None  # the tier this re-listing should be flagged in (None for the original)
    data: bytes


def text_overlay(image: Image.Image) -> Image.Image:
    out = image.copy()
    width, height = out.size
    font = ImageFont.load_default(size=max(12, height // 7))
    ImageDraw.Draw(out).text((width // 12, height // 3), "SALE -50%", fill=(220, 0, 0), font=font)
    return out


def watermark(image: Image.Image) -> Image.Image:
    base = image.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    font = ImageFont.load_default(size=max(10, base.height // 14))
    for y in range(0, base.height, max(10, base.height // 5)):
        for x in range(-base.width // 4, base.width, max(20, base.width // 3)):
            draw.text((x + (y // 3) % 40, y), "© myshop", fill=(255, 255, 255, 110), font=font)
    return Image.alpha_composite(base, layer).convert("RGB")


def crop(image: Image.Image, keep: float, *, shift: float = 0.5) -> Image.Image:
    width, height = image.size
    w, h = int(width * keep), int(height * keep)
    left, top = int((width - w) * shift), int((height - h) * (1 - shift))
    return image.crop((left, top, left + w, top + h))


def pad(image: Image.Image, colour: tuple[int, int, int]) -> Image.Image:
    width, height = image.size
    canvas = Image.new("RGB", (int(width * 1.5), int(height * 1.3)), colour)
    canvas.paste(image, ((canvas.width - width) // 3, (canvas.height - height) // 2))
    return canvas


def bright_contrast(image: Image.Image) -> Image.Image:
    return ImageEnhance.Contrast(ImageEnhance.Brightness(image).enhance(1.25)).enhance(0.8)


def edits(image: Image.Image, rng: np.random.Generator) -> list[tuple[str, Tier, bytes]]:
    width, height = image.size
    colour = tuple(int(c) for c in rng.integers(0, 255, 3))
    return [
        (
            "resize_60",
            Tier.EXACT,
            jpeg(image.resize((int(width * 0.6), int(height * 0.6)), Image.Resampling.LANCZOS)),
        ),
        ("jpeg_q30", Tier.EXACT, jpeg(image, quality=30)),
        ("crop_80", Tier.NEAR_DUPLICATE, jpeg(crop(image, 0.8, shift=float(rng.uniform(0.2, 0.8))))),
        ("crop_70", Tier.NEAR_DUPLICATE, jpeg(crop(image, 0.7, shift=float(rng.uniform(0.2, 0.8))))),
        ("flip", Tier.NEAR_DUPLICATE, jpeg(ImageOps.mirror(image))),
        ("bright_contrast", Tier.NEAR_DUPLICATE, jpeg(bright_contrast(image))),
        ("text", Tier.NEAR_DUPLICATE, jpeg(text_overlay(image))),
        ("watermark", Tier.NEAR_DUPLICATE, jpeg(watermark(image))),
        ("pad_background", Tier.NEAR_DUPLICATE, jpeg(pad(image, colour))),  # type: ignore[arg-type]
        ("crop70_flip_text", Tier.SIMILAR, jpeg(text_overlay(ImageOps.mirror(crop(image, 0.7))))),
        (
            "pad_crop80_bright",
            Tier.SIMILAR,
            jpeg(pad(bright_contrast(crop(image, 0.8, shift=0.3)), colour)),  # type: ignore[arg-type]
        ),
    ]


def originals(per_class: int) -> list[tuple[str, Image.Image]]:
    from skimage import data
    from sklearn.datasets import load_sample_images

    images = read_idx(FASHION_DIR / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(FASHION_DIR / "t10k-labels-idx1-ubyte.gz")
    found: list[tuple[str, Image.Image]] = []
    for label, name in enumerate(FASHION_CLASSES):
        for index in np.flatnonzero(labels == label)[:per_class]:
            # Dark garment on white, 224 px: closer to a packshot than white-on-black 28 px.
            packshot = ImageOps.invert(Image.fromarray(images[index])).resize((224, 224), Image.Resampling.BICUBIC)
            found.append((f"fashion:{name}", packshot.convert("RGB")))
    photos = [getattr(data, name)() for name in PHOTO_NAMES] + list(load_sample_images().images)
    for array in photos:
        image = Image.fromarray(np.asarray(array)).convert("RGB")
        image.thumbnail((512, 512))
        found.append(("photo", image))
    return found


def build_items(per_class: int, seed: int) -> list[Item]:
    rng = np.random.default_rng(seed)
    items: list[Item] = []
    for index, (category, image) in enumerate(originals(per_class)):
        items.append(Item(index, category, "original", None, jpeg(image)))
        items.extend(Item(index, category, name, tier, data) for name, tier, data in edits(image, rng))
    return items


@dataclass(frozen=True)
class Pairs:
    """Every evaluated pair: (original listing, its re-listing) positives and cross-original negatives."""

    a: np.ndarray
    b: np.ndarray
    similarity: np.ndarray
    phash_bits: np.ndarray
    same_bytes: np.ndarray
    label: np.ndarray  # Tier value, 0 for negatives
    split: np.ndarray  # 0 calibration, 1 test (by the originals involved)
    hard: np.ndarray  # negative of two different products of the same Fashion-MNIST category


def build_pairs(items: list[Item], vectors: np.ndarray, hashes: list[int], shas: list[str]) -> Pairs:
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
    similarity = np.einsum("nd,nd->n", vectors[a], vectors[b])
    bits = np.array([hamming_distance(hashes[i], hashes[j]) for i, j in zip(a, b, strict=True)])
    same = np.array([shas[i] == shas[j] for i, j in zip(a, b, strict=True)])
    return Pairs(
        a, b, similarity, bits, same, np.array([r[2] for r in rows]), np.array([r[3] for r in rows]),
        np.array([r[4] for r in rows]),
    )  # fmt: skip


def predict(pairs: Pairs, mask: np.ndarray, thresholds: Thresholds) -> np.ndarray:
    """The tier recommender.duplicates.thresholds.classify gives each pair (0: not flagged)."""
    out = np.zeros(int(mask.sum()), dtype=int)
    for n, (sim, bits, same) in enumerate(
        zip(pairs.similarity[mask], pairs.phash_bits[mask], pairs.same_bytes[mask], strict=True)
    ):
        tier = classify(similarity=float(sim), phash_bits=int(bits), same_bytes=bool(same), thresholds=thresholds)
        out[n] = int(tier) if tier is not None else 0
    return out


def predict_fast(pairs: Pairs, mask: np.ndarray, near: float, similar: float, bits: int) -> np.ndarray:
    """Vectorised mirror of classify, for the grid search only (the report uses `predict`)."""
    sim, phash, same = pairs.similarity[mask], pairs.phash_bits[mask], pairs.same_bytes[mask]
    out = np.where(sim >= similar, np.where(phash <= bits, 3, np.where(sim >= near, 2, 1)), 0)
    return np.where(same, 3, out)


def scores(label: np.ndarray, predicted: np.ndarray) -> dict[str, dict[str, float]]:
    def prf(truth: np.ndarray, guess: np.ndarray) -> dict[str, float]:
        hit = int((truth & guess).sum())
        p = hit / guess.sum() if guess.sum() else 1.0
        r = hit / truth.sum() if truth.sum() else 1.0
        return {
            "precision": round(p, 4),
            "recall": round(r, 4),
            "f1": round(2 * p * r / (p + r) if p + r else 0.0, 4),
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


def calibrate(pairs: Pairs, mask: np.ndarray) -> tuple[Thresholds, float]:
    """Thresholds maximising, on the calibration split, the mean F1 of the queue's three floors.

    Each threshold is the floor of a queue filter: "exact", "near-duplicate or
    stronger", "similar or stronger" (any duplicate). Scoring the floors rather
    than the strict tiers keeps the choice from hinging on the edge between
    "near-duplicate" and "similar", which is a matter of taste, not of fact.
    """
    best: tuple[float, Thresholds] | None = None
    label = pairs.label[mask]
    for bits in (2, 4, 6, 8, 10):
        for near in np.arange(0.70, 0.99, 0.01):
            for similar in np.arange(0.50, near + 1e-9, 0.01):
                predicted = predict_fast(pairs, mask, float(near), float(similar), bits)
                f1s = []
                for truth, guess in (
                    (label == 3, predicted == 3),
                    (label >= 2, predicted >= 2),
                    (label >= 1, predicted >= 1),
                ):
                    hit = (truth & guess).sum()
                    p = hit / guess.sum() if guess.sum() else 1.0
                    r = hit / truth.sum() if truth.sum() else 1.0
                    f1s.append(2 * p * r / (p + r) if p + r else 0.0)
                # Ties go to the stricter pair (fewer look-alikes in the queue).
                key = (float(np.mean(f1s)), near + similar)
                if best is None or key > (best[0], best[1].near + best[1].similar):
                    best = (key[0], Thresholds(round(float(near), 2), round(float(similar), 2), bits))
    assert best is not None
    return best[1], best[0]


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
                "phash_bits": int(pairs.phash_bits[pair_index]),
                "label": Tier(pairs.label[pair_index]).code if pairs.label[pair_index] else "not_duplicate",
                "predicted": Tier(predicted[n]).code if predicted[n] else "not_flagged",
            }
        )
    # Closest to the near-duplicate floor first, from both sides of it.
    examples.sort(key=lambda e: abs(float(e["similarity"]) - thresholds.near))  # type: ignore[arg-type]
    return examples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", default="efficientnet-lite0")
    parser.add_argument("--per-class", type=int, default=6, help="Fashion-MNIST products per category")
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
    items = build_items(args.per_class, args.seed)
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
            np.savez(args.cache, vectors=vectors, digest=digest, encoder=encoder.identity)
    hashes = [perceptual_hash(Image.open(io.BytesIO(it.data))) for it in items]
    shas = [hashlib.sha256(it.data).hexdigest() for it in items]
    encoded = time.perf_counter() - started
    pairs = build_pairs(items, vectors.astype(np.float32), hashes, shas)

    calibration, test = pairs.split == 0, pairs.split == 1
    chosen, calibration_f1 = calibrate(pairs, calibration)
    report: dict[str, object] = {
        "encoder": encoder.identity,
        "originals": len({it.original for it in items}),
        "listings": len(items),
        "pairs_test": int(test.sum()),
        "positives_test": int((pairs.label[test] > 0).sum()),
        "hard_negatives_test": int((pairs.hard & test).sum()),
        "thresholds": {"near": chosen.near, "similar": chosen.similar, "phash_max_distance": chosen.phash_max_distance},
        "calibration_macro_f1": round(calibration_f1, 4),
        "test": scores(pairs.label[test], predict(pairs, test, chosen)),
        "test_hard_negatives_flagged": int((predict(pairs, pairs.hard & test, chosen) > 0).sum()),
        "encode_seconds": round(encoded, 1),
    }
    per_edit: dict[str, dict[str, int]] = {}
    predicted_test = predict(pairs, test, chosen)
    for pair_index, guess in zip(np.flatnonzero(test), predicted_test, strict=True):
        if pairs.label[pair_index]:
            edit = (
                items[pairs.b[pair_index]].edit
                if items[pairs.a[pair_index]].edit == "original"
                else items[pairs.a[pair_index]].edit
            )
            row = per_edit.setdefault(edit, {"n": 0, "flagged": 0, "in_label_tier": 0})
            row["n"] += 1
            row["flagged"] += int(guess > 0)
            row["in_label_tier"] += int(guess == pairs.label[pair_index])
    report["test_per_edit"] = per_edit
    report["near_cutoff_examples"] = near_cutoff(pairs, items, test, chosen)[:16]
    report["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
