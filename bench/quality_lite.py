"""Retrieval quality of the ``lite`` profile (EfficientNet-Lite0 + ConSE/MiniLM), offline.

1. Fashion-MNIST test split (Debian package dataset-fashion-mnist), a subset upscaled from
   28 px: k-NN precision@10 by class in each space, and zero-shot accuracy of the semantic
   space from class-name prompts.
2. Edited copies of real photos (scikit-image, scikit-learn): crop, resize, JPEG q30, flip,
   brightness, text overlay; recall@1 of the original among the originals plus every
   Fashion-MNIST image as distractors.

    apt-get install -y dataset-fashion-mnist
    python -m bench.quality_lite --n 2000 --json bench/out/quality_lite.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

from bench.photo_corpus import FASHION_DIR, jpeg, read_idx
from embeddings.encoders import PROFILES, get_encoder

# Fashion-MNIST's labels, worded as a shopper would type them.
CLASS_PROMPTS = [
    "a photo of a t-shirt",
    "a photo of trousers",
    "a photo of a pullover sweater",
    "a photo of a dress",
    "a photo of a coat",
    "a photo of a sandal",
    "a photo of a shirt",
    "a photo of a sneaker",
    "a photo of a bag",
    "a photo of an ankle boot",
]
PHOTO_NAMES = [
    "astronaut", "brick", "camera", "chelsea", "clock", "coffee", "coins", "colorwheel", "grass", "gravel",
    "hubble_deep_field", "immunohistochemistry", "moon", "page", "retina", "rocket", "text",
]  # fmt: skip


def fashion_subset(n: int) -> tuple[list[Image.Image], np.ndarray]:
    images = read_idx(FASHION_DIR / "t10k-images-idx3-ubyte.gz")[:n]
    labels = read_idx(FASHION_DIR / "t10k-labels-idx1-ubyte.gz")[:n]
    # Greyscale 28 px in, upscaled like a thumbnail a shop might have; encoders resize further.
    return [Image.fromarray(image).resize((224, 224), Image.Resampling.BICUBIC) for image in images], labels


def precision_at_10(vectors: np.ndarray, labels: np.ndarray) -> tuple[float, dict[int, float]]:
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -np.inf)
    neighbours = np.argpartition(-similarity, 10, axis=1)[:, :10]
    hits = (labels[neighbours] == labels[:, None]).mean(axis=1)
    return float(hits.mean()), {int(c): float(hits[labels == c].mean()) for c in np.unique(labels)}


def photos() -> list[Image.Image]:
    from skimage import data
    from sklearn.datasets import load_sample_images

    arrays = [getattr(data, name)() for name in PHOTO_NAMES] + list(load_sample_images().images)
    return [Image.fromarray(np.asarray(array)).convert("RGB") for array in arrays]


def edits(image: Image.Image) -> dict[str, bytes]:
    width, height = image.size
    overlay = image.copy()
    draw = ImageDraw.Draw(overlay)
    font = ImageFont.load_default(size=max(12, height // 8))
    draw.text((width // 10, height // 3), "SALE -50%", fill=(255, 0, 0), font=font)
    return {
        "crop": jpeg(image.crop((width // 8, height // 8, width - width // 8, height - height // 8))),
        "resize": jpeg(image.resize((width // 3, height // 3), Image.Resampling.BILINEAR)),
        "jpeg_q30": jpeg(image, quality=30),
        "flip": jpeg(ImageOps.mirror(image)),
        "brightness": jpeg(ImageEnhance.Brightness(image).enhance(1.4)),
        "text_overlay": jpeg(overlay),
    }


def copy_detection(name: str, originals: list[Image.Image], distractors: np.ndarray) -> dict[str, float]:
    encoder = get_encoder(name)
    database = np.concatenate([encoder.encode_images([jpeg(o) for o in originals]), distractors])
    per_edit: dict[str, list[bool]] = {}
    for index, original in enumerate(originals):
        edited = edits(original)
        queries = encoder.encode_images(list(edited.values()))
        nearest = np.argmax(queries @ database.T, axis=1)
        for kind, hit in zip(edited, nearest == index, strict=True):
            per_edit.setdefault(kind, []).append(bool(hit))
    recall = {kind: float(np.mean(hits)) for kind, hits in per_edit.items()}
    recall["all"] = float(np.mean([h for hits in per_edit.values() for h in hits]))
    return recall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="Fashion-MNIST test images (first n)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    started = time.perf_counter()
    images, labels = fashion_subset(args.n)
    report: dict[str, object] = {"n_fashion": args.n, "profile": PROFILES["lite"]}
    vectors = {}
    for role, name in PROFILES["lite"].items():
        encoder = get_encoder(name)
        report[f"{role}_identity"] = encoder.identity
        vectors[role] = encoder.encode_images(images)
        mean, by_class = precision_at_10(vectors[role], labels)
        report[f"{role}_precision_at_10"] = mean
        report[f"{role}_precision_at_10_by_class"] = by_class
        print(f"{name}: k-NN precision@10 = {mean:.3f}", flush=True)

    semantic = get_encoder(PROFILES["lite"]["semantic"])
    prompts = semantic.encode_texts(CLASS_PROMPTS)
    predicted = np.argmax(vectors["semantic"] @ prompts.T, axis=1)
    report["semantic_zero_shot_accuracy"] = float((predicted == labels).mean())
    report["semantic_zero_shot_confusion"] = (
        np.bincount(labels * 10 + predicted, minlength=100).reshape(10, 10).tolist()
    )
    print(f"zero-shot accuracy = {report['semantic_zero_shot_accuracy']:.3f} (chance 0.100)", flush=True)

    originals = photos()
    for role, name in PROFILES["lite"].items():
        recall = copy_detection(name, originals, vectors[role])
        report[f"{role}_copy_recall_at_1"] = recall
        print(f"{name}: edited-copy recall@1 among {len(originals) + args.n} = {json.dumps(recall)}", flush=True)

    report["seconds"] = time.perf_counter() - started
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
