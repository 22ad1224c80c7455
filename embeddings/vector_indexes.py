"""Partial HNSW indexes, one per (table, space, encoder).

pgvector can only index a column of fixed dimension, while our vector tables
hold several encoders of different dimensions. The documented way out is an
expression index on `(embedding::halfvec(<dim>))` restricted by a WHERE clause
to one encoder. A query uses the index only when it repeats that exact
expression and predicate and orders by the opclass's operator (`<=>`, cosine)
with a LIMIT: `knn_distance_sql` builds that expression so callers cannot drift.
A space that blends words into its product vectors has one more, on the photos'
mean (`photo_mean_sql`), for search by photo.
"""

from __future__ import annotations

import hashlib

from django.db import connection
from psycopg.sql import quote

from embeddings.models import ImageVector, ProductVector, Space

VECTOR_TABLES = {
    "product": ProductVector._meta.db_table,
    "image": ImageVector._meta.db_table,
}
# Search by photo in the spaces that blend in text: the photos' mean alone (ProductVector.image_embedding,
# NULL where `embedding` is that mean already).
PHOTO_MEAN = "product_photos"


def photo_mean_sql(alias: str = "") -> str:
    """The stored photos' mean of a ProductVector row, as its HNSW index (kind PHOTO_MEAN) is built on it."""
    prefix = f"{alias}." if alias else ""
    return f"coalesce({prefix}image_embedding, {prefix}embedding)"


# Index kind -> (table, the vector expression indexed).
INDEXED = {kind: (table, "embedding") for kind, table in VECTOR_TABLES.items()} | {
    PHOTO_MEAN: (ProductVector._meta.db_table, photo_mean_sql())
}
HNSW_M = 16
# 128, not pgvector's 64, by measurement (bench/hnsw_sweep.py, BENCHMARKS.md): on the 1M x 768-d
# stress set, recall@10 at ef_search 200 went 0.873 -> 0.997 for a build of 636 s instead of 353 s
# (same index size); on the lite vectors of 70,000 real photos both reach 1.0. An index built
# before keeps its settings until it is rebuilt (REINDEX, or the next encoder switch).
HNSW_EF_CONSTRUCTION = 128


def index_kinds(space: str) -> list[str]:
    """The kinds of HNSW index every encoder of `space` has."""
    return [*VECTOR_TABLES, *([PHOTO_MEAN] if Space.blends_text(space) else [])]


def index_name(table: str, space: str, encoder: str, kind: str | None = None) -> str:
    """The index's name; `kind` only for an index other than a table's own `embedding` (PHOTO_MEAN)."""
    key = f"{space}:{encoder}" if kind is None else f"{space}:{encoder}:{kind}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    return f"{table[:30]}_hnsw_{space[:8]}_{digest}"


def kind_index_name(kind: str, space: str, encoder: str) -> str:
    table, expression = INDEXED[kind]
    return index_name(table, space, encoder, None if expression == "embedding" else kind)


def index_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [name])
        return cursor.fetchone() is not None


def ensure_hnsw_index(*, kind: str, space: str, encoder: str, dim: int, concurrently: bool = False) -> str:
    """Create the partial HNSW index for one encoder if it is missing; return its name.

    `concurrently=True` builds without blocking writes (it cannot run inside a
    transaction); a backfill builds the index after bulk-loading, which is far
    cheaper than inserting into an existing graph row by row.
    """
    if not 1 <= dim <= 4000:
        raise ValueError(f"halfvec HNSW indexes support 1..4000 dimensions, got {dim}")
    table, expression = INDEXED[kind]
    name = kind_index_name(kind, space, encoder)
    if index_exists(name):
        return name
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE INDEX {'CONCURRENTLY ' if concurrently else ''}IF NOT EXISTS {connection.ops.quote_name(name)} "
            f"ON {connection.ops.quote_name(table)} "
            f"USING hnsw ((({expression})::halfvec({int(dim)})) halfvec_cosine_ops) "
            f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION}) "
            f"WHERE space = %s AND encoder = %s",
            [space, encoder],
        )
    return name


def index_predicate_sql(alias: str, space: str, encoder: str) -> str:
    """`<alias>.space = '<space>' AND <alias>.encoder = '<encoder>'`: the partial index's predicate, in constants.

    The planner uses a partial index only where it can prove the index's WHERE from the query's, and
    it proves it from constants alone: a statement that is prepared (and so planned once, for any
    parameters) must spell the predicate as literals, or it is planned as a scan of the whole table.
    """
    return f"{alias}.space = {quote(space)} AND {alias}.encoder = {quote(encoder)}"


def knn_distance_sql(alias: str, dim: int, query: str = "%s") -> str:
    """`<alias>.embedding::halfvec(dim) <=> <query>::halfvec(dim)`: the indexed cosine distance.

    `query` is a parameter placeholder by default, or an SQL expression (another row's embedding).
    """
    return f"({alias}.embedding::halfvec({int(dim)}) <=> {query}::halfvec({int(dim)}))"
