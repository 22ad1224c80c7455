"""The similarity matrix: cosine similarity between up to 50 products, in one space.

Computed in PostgreSQL from the active encoder's ProductVector rows: a self-join
of at most 50 x 50 rows, so no index is needed and no vector leaves the database.
Vectors of any other encoder are never compared (the join repeats space and encoder).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from embeddings.models import ProductVector
from embeddings.selectors import active_encoder

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
