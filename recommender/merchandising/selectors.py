"""Reads for the staff pages: the similarity matrix, the current catalogue map, vectors for a map build.

The similarity matrix is computed in PostgreSQL from the active encoder's
ProductVector rows: a self-join of at most 50 x 50 rows, so no index is needed
and no vector leaves the database. Vectors of any other encoder are never
compared (the join repeats space and encoder).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import psycopg
from django.db import connection

from catalog.models import Category, Product
from embeddings.models import ProductVector
from embeddings.selectors import active_encoder
from embeddings.vector_codec import halfvec_matrix_from_wire
from recommender.merchandising.catalog_map import FETCH_BATCH, MapFile, map_file

MAX_MATRIX_PRODUCTS = 50


@dataclass(frozen=True)
class SimilarityMatrix:
    space: str
    encoder: str | None  # None: the space has no active encoder yet
    product_ids: list[int]  # rows and columns, in this order (products without a vector left out)
    values: list[list[float]]  # values[i][j] = cosine similarity of product_ids[i] and product_ids[j]


def similarity_matrix(*, space: str, product_ids: list[int]) -> SimilarityMatrix:
    if len(product_ids) > MAX_MATRIX_PRODUCTS:
        raise ValueError(f"a similarity matrix holds at most {MAX_MATRIX_PRODUCTS} products, got {len(product_ids)}")
    encoder = active_encoder(space)
    if encoder is None or not product_ids:
        return SimilarityMatrix(space=space, encoder=encoder.identity if encoder else None, product_ids=[], values=[])
    table = connection.ops.quote_name(ProductVector._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT a.product_id, b.product_id, 1 - (a.embedding <=> b.embedding)
            FROM {table} a JOIN {table} b ON b.space = a.space AND b.encoder = a.encoder
            WHERE a.space = %s AND a.encoder = %s AND a.product_id = ANY(%s) AND b.product_id = ANY(%s)
            """,
            [space, encoder.identity, product_ids, product_ids],
        )
        pairs = {(row[0], row[1]): float(row[2]) for row in cursor.fetchall()}
    present = [pk for pk in dict.fromkeys(product_ids) if (pk, pk) in pairs]
    values = [[round(pairs[(a, b)], 4) for b in present] for a in present]
    return SimilarityMatrix(space=space, encoder=encoder.identity, product_ids=present, values=values)


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
            chunks.append(halfvec_matrix_from_wire([row[1] for row in rows]))
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    return np.asarray(ids, dtype=np.int64), np.concatenate(chunks)


def map_categories(ids: np.ndarray) -> tuple[list[str], list[int]]:
    names = dict(Category.objects.values_list("id", "name"))
    by_product = dict(Product.objects.filter(pk__in=ids.tolist()).values_list("id", "category_id"))
    ordered = sorted(names, key=lambda pk: names[pk].lower())
    index = {pk: i + 1 for i, pk in enumerate(ordered)}  # 0 is "no category"
    return ["Uncategorised", *(names[pk] for pk in ordered)], [index.get(by_product.get(pk) or 0, 0) for pk in ids]
