"""The catalog map: a 2D layout (t-SNE) of every active product's vector in one space.

Built by `manage.py build_catalog_map` (or the `catalog_map_build_task` worker task)
and cached as a JSON file under MEDIA_ROOT/maps/, keyed by space and encoder
identity: when a space switches encoder the old map is simply no longer read,
so a map never mixes two encoders' vectors and no table or migration is needed.

Two files per map: `<name>.json.gz`, the points, which the page fetches as is
(compact enough for 70,000 products: sorted product ids delta-encoded,
coordinates quantised to 0..MAP_GRID, one small integer per product for its
category), and `<name>.meta.json`, the header the page shows without reading the points.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from django.conf import settings
from django.db import connection
from django.utils import timezone

from catalog.models import Category, Product
from embeddings.models import ProductVector
from embeddings.selectors import active_encoder

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
    folder = Path(settings.MEDIA_ROOT) / "maps"
    stem = f"{space}-{slug}-{digest}"
    return MapFile(space=space, encoder=encoder, points=folder / f"{stem}.json.gz", meta=folder / f"{stem}.meta.json")


def catalog_map_current(space: str) -> MapFile | None:
    """The cached map of `space` for its active encoder, if one has been built."""
    encoder = active_encoder(space)
    if encoder is None:
        return None
    found = map_file(space=space, encoder=encoder.identity)
    return found if found.points.is_file() and found.meta.is_file() else None


def product_vectors(*, space: str, encoder: str) -> tuple[np.ndarray, np.ndarray]:
    """(ids, float32 matrix) of every active product's vector of `encoder`, ordered by product id.

    Read with a binary cursor and decoded with numpy: pgvector sends a halfvec as
    a 4-byte header (dim, unused) and big-endian float16s, so 70,000 x 1280 values
    arrive in seconds instead of being parsed from text.
    """
    table = connection.ops.quote_name(ProductVector._meta.db_table)
    products = connection.ops.quote_name(Product._meta.db_table)
    ids: list[int] = []
    chunks: list[np.ndarray] = []
    connection.ensure_connection()
    raw = connection.connection  # the psycopg connection under Django's wrapper
    assert raw is not None
    # Django's cursors bind parameters client-side, which cannot return binary
    # results; a plain psycopg cursor on the same connection (same transaction) can.
    with psycopg.Cursor(raw) as cursor:
        cursor.execute(
            f"SELECT v.product_id, v.embedding FROM {table} v JOIN {products} p ON p.id = v.product_id "
            "WHERE v.space = %s AND v.encoder = %s AND p.is_active ORDER BY v.product_id",
            [space, encoder],
            binary=True,
        )
        while rows := cursor.fetchmany(FETCH_BATCH):
            ids.extend(row[0] for row in rows)
            buffer = b"".join(bytes(row[1])[4:] for row in rows)
            chunks.append(np.frombuffer(buffer, dtype=">f2").astype(np.float32).reshape(len(rows), -1))
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    return np.asarray(ids, dtype=np.int64), np.concatenate(chunks)


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


def _quantise(points: np.ndarray) -> np.ndarray:
    low = points.min(axis=0)
    span = np.maximum(points.max(axis=0) - low, 1e-9)
    # One scale for both axes keeps the map's proportions (t-SNE distances are isotropic).
    scale = MAP_GRID / float(span.max())
    offset = (MAP_GRID - span * scale) / 2
    return np.rint((points - low) * scale + offset).astype(np.int64)


def _categories(ids: np.ndarray) -> tuple[list[str], list[int]]:
    names = dict(Category.objects.values_list("id", "name"))
    by_product = dict(Product.objects.filter(pk__in=ids.tolist()).values_list("id", "category_id"))
    ordered = sorted(names, key=lambda pk: names[pk].lower())
    index = {pk: i + 1 for i, pk in enumerate(ordered)}  # 0 is "no category"
    return ["Uncategorised", *(names[pk] for pk in ordered)], [index.get(by_product.get(pk) or 0, 0) for pk in ids]


def catalog_map_build(*, space: str) -> tuple[MapFile, dict[str, Any]]:
    """Compute the map of `space` for its active encoder and write it atomically; return it and its header."""
    encoder = active_encoder(space)
    if encoder is None:
        raise CatalogMapError(f"space {space!r} has no active encoder yet: embed some products first")
    ids, vectors = product_vectors(space=space, encoder=encoder.identity)
    if ids.size == 0:
        raise CatalogMapError(f"no active product has a {space} vector of {encoder.identity}")
    points, method = project_2d(vectors)
    grid = _quantise(points)
    category_names, category_index = _categories(ids)
    header = {
        "format": MAP_FORMAT,
        "space": space,
        "encoder": encoder.identity,
        "method": method,
        "built_at": timezone.now().isoformat(timespec="seconds"),
        "count": int(ids.size),
        "grid": MAP_GRID,
    }
    body = {
        **header,
        "categories": category_names,
        "ids": np.diff(ids, prepend=0).tolist(),
        "x": grid[:, 0].tolist(),
        "y": grid[:, 1].tolist(),
        "c": category_index,
    }
    target = map_file(space=space, encoder=encoder.identity)
    # Points first, header last: a header never announces points that are not there yet.
    _write_atomically(target.points, gzip.compress(json.dumps(body, separators=(",", ":")).encode(), 6))
    _write_atomically(target.meta, json.dumps(header).encode())
    return target, header


def _write_atomically(path: Path, data: bytes) -> None:
    # Write to a temporary file and rename: a page reading the map while it is
    # rebuilt sees the old file or the new one, never half of one.
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)
