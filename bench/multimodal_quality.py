"""Semantic "more like this" with multimodal product vectors (issue 15): precision@10 by text weight.

Fashion-MNIST's test split (Debian package dataset-fashion-mnist) as a catalogue:
each photo is a product listed as the demo catalogue lists it (catalog.demo_catalog:
title, brand, category, colour attribute, description). Its semantic vector is the
photo's ConSE vector blended with its words through the same MiniLM text tower,
by the service's own functions (embeddings.encoders.multimodal: product_text, blend),
for each weight w; precision@10 counts neighbours of the same class. The visual
space (EfficientNet-Lite0) is untouched by the blend and is given for reference.
A title-only variant shows how much rests on the category name and description.

    python -m bench.multimodal_quality --n 2000 --json bench/out/multimodal_quality.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from bench.quality_lite import fashion_subset, precision_at_10
from catalog.demo_catalog import CATEGORIES, DemoItem, demo_items
from embeddings.encoders import PROFILES, EncoderOptions, configure, get_encoder
from embeddings.encoders.multimodal import blend, product_text

WEIGHTS = [0.0, 0.1, 0.2, 0.3, 0.5, 0.7]


def listings(labels: np.ndarray) -> dict[str, list[str]]:
    """Each photo's words as the service builds them, and its title alone (the first variant of each photo)."""
    first: dict[int, DemoItem] = {}
    for item in demo_items(labels, limit=3 * len(labels)):
        first.setdefault(item.photo_index, item)
    items = [first[index] for index in range(len(labels))]
    full = [
        product_text(
            title=item.title,
            brand=item.brand,
            category=item.category,
            attributes={"colour": item.colour},
            description=item.description,
        )
        for item in items
    ]
    return {"full": full, "title": [item.title for item in items]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="Fashion-MNIST test images (first n)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    # The worker's lite setup on a CPU: fp32 on ONNX Runtime, graphs cached where the worker keeps them.
    configure(EncoderOptions(cpu_dtype="fp32", backend="onnx", onnx_cache_dir=Path("var/onnx").resolve()))
    started = time.perf_counter()
    images, labels = fashion_subset(args.n)
    visual, semantic = (get_encoder(PROFILES["lite"][role]) for role in ("visual", "semantic"))
    report: dict[str, object] = {
        "n": args.n,
        "visual_identity": visual.identity,
        "semantic_identity": semantic.identity,
        "categories": [name for name, _, _ in CATEGORIES],
    }
    report["visual_precision_at_10"] = precision_at_10(visual.encode_images(images), labels)[0]
    print(f"visual {visual.name}: p@10 = {report['visual_precision_at_10']:.3f}", flush=True)
    photos = semantic.encode_images(images)
    for variant, texts in listings(labels).items():
        words = semantic.encode_texts(texts)
        table = {}
        for weight in WEIGHTS:
            mean, by_class = precision_at_10(blend(photos, words, weight), labels)
            table[str(weight)] = {"precision_at_10": mean, "by_class": by_class}
            print(f"semantic {semantic.name} + {variant} text, w={weight}: p@10 = {mean:.3f}", flush=True)
        report[f"semantic_{variant}"] = table
    report["seconds"] = time.perf_counter() - started
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
