"""The catalog map: a 2D layout (t-SNE) of every active product's vector in one space.

Built by `manage.py build_catalog_map` (or the `catalog_map_build_task` worker task,
through services.catalog_map_build)
and cached as a JSON file under CATALOG_MAP_ROOT (var/maps: outside MEDIA_ROOT, which a web
server publishes; only the staff view serves a map, after its permission check), keyed by space and encoder
identity: when a space switches encoder the old map is simply no longer read,
so a map never mixes two encoders' vectors and no table or migration is needed.

Two files per map: `<name>.json.gz`, the points, which the page fetches as is
(compact enough for 70,000 products: sorted product ids delta-encoded,
coordinates quantised to 0..MAP_GRID, one small integer per product for its
category), and `<name>.meta.json`, the header the page shows without reading the points.


This module is the map's format and its 2D projection (numpy, scikit-learn,
openTSNE); reading vectors is in selectors.py, writing the files in services.py.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

MAP_GRID = 10_000  # coordinates are integers in 0..MAP_GRID: sub-pixel on any screen, 5 digits in JSON
MAP_FORMAT = 1
PCA_DIMENSIONS = 50  # t-SNE on 50 PCA components: same layout, ~10x less neighbour-search work
FETCH_BATCH = 5_000  # rows per round trip when streaming vectors (~13 MB of 1280-d halfvecs)
PARALLEL_FROM = 10_000  # products from which t-SNE runs on several threads
PARALLEL_JOBS = 4
MIN_TSNE_POINTS = 20  # below this t-SNE's perplexity is meaningless: fall back to PCA


class CatalogMapError(Exception):
    """Raised with a one-line message (the management command turns it into a CommandError)."""


@dataclass(frozen=True)
class MapFile:
    space: str
    encoder: str
    points: Path  # gzip-compressed JSON
    meta: Path

    def header(self) -> dict[str, Any]:
        return dict(json.loads(self.meta.read_text()))


def map_file(*, space: str, encoder: str) -> MapFile:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", encoder)[:80]
    digest = hashlib.sha1(encoder.encode()).hexdigest()[:8]
    folder = Path(settings.CATALOG_MAP_ROOT)
    stem = f"{space}-{slug}-{digest}"
    return MapFile(space=space, encoder=encoder, points=folder / f"{stem}.json.gz", meta=folder / f"{stem}.meta.json")


def project_2d(vectors: np.ndarray, *, seed: int = 42) -> tuple[np.ndarray, str]:
    """2D coordinates for each row, and the method used ("tsne" or "pca")."""
    from sklearn.decomposition import PCA

    count = vectors.shape[0]
    if count < 3:
        return np.zeros((count, 2), dtype=np.float32), "pca"
    components = min(PCA_DIMENSIONS, count - 1, vectors.shape[1])
    reduced = PCA(components, svd_solver="randomized", random_state=seed).fit_transform(vectors)
    if count < MIN_TSNE_POINTS:
        return np.asarray(reduced[:, :2], dtype=np.float32), "pca"
    from openTSNE import TSNE

    # openTSNE logs at INFO on every fit, even about parameters it was not given.
    logging.getLogger("openTSNE").setLevel(logging.WARNING)
    perplexity = min(30.0, (count - 1) / 3.0)
    # Threads pay off only on large catalogs; on small ones their start-up and
    # spinning cost more than the work (seconds instead of a fraction of one).
    jobs = min(PARALLEL_JOBS, os.cpu_count() or 1) if count >= PARALLEL_FROM else 1
    # Methods named explicitly (openTSNE would log its "auto" choice): exact neighbours and
    # Barnes-Hut for small catalogs, approximate neighbours and FFT interpolation for large ones.
    large = count >= PARALLEL_FROM
    embedding = TSNE(
        perplexity=perplexity,
        n_jobs=jobs,
        random_state=seed,
        neighbors="annoy" if large else "exact",
        negative_gradient_method="fft" if large else "bh",
        verbose=False,
    ).fit(reduced)
    return np.asarray(embedding, dtype=np.float32), "tsne"


def quantise(points: np.ndarray) -> np.ndarray:
    low = points.min(axis=0)
    span = np.maximum(points.max(axis=0) - low, 1e-9)
    # One scale for both axes keeps the map's proportions (t-SNE distances are isotropic).
    scale = MAP_GRID / float(span.max())
    offset = (MAP_GRID - span * scale) / 2
    return np.rint((points - low) * scale + offset).astype(np.int64)
