"""One SQL statement that fetches k-NN candidates per space and scores them in both spaces.

One round trip does all of it:

- the k-NN session settings (`hnsw.ef_search`, iterative scan) are set by
  `set_config(..., true)` in the statement's first CTE, and every index branch
  waits for it (a one-time filter on that CTE), so the scan starts with them;
  on an autocommit connection they lapse with the statement;
- a query vector is a parameter (search, search by photo, recommendations) or
  the stored vector of a product, looked up by the statement itself (/similar/):
  nothing is fetched into Python first;
- each space's candidates come from the product's stored neighbour list
  (embeddings.neighbours) when its first k entries that pass the filters exist,
  and otherwise from the HNSW index: the index branch sits behind a one-time
  filter on the list's count, so it never runs when the list suffices;
- the candidates of every branch are then scored exactly against both query
  vectors in the same statement, whichever path found them;
- the first row also carries the active encoders, so a process that cached them
  (spaces.serving_encoders) learns in the same round trip that they changed.

Each index branch repeats the indexed expression and predicate
(`knn_distance_sql`, `space = … AND encoder = …`) and orders by the distance
with a LIMIT, which is the only shape the partial HNSW index serves. The exact
path fences the same branch with `OFFSET 0` so the planner cannot turn it back
into an index scan that would filter after the fact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from django.db import connection

from config.prepared_statements import prepared_cursor
from embeddings.models import EncoderState, ProductNeighbours, ProductVector, SpaceEncoder
from embeddings.selectors import ActiveEncoder
from embeddings.vector_codec import halfvec_from_wire, halfvec_send_sql, vector_literal
from embeddings.vector_indexes import index_predicate_sql, photo_mean_sql
from recommender.storefront.selectors.planning import Plan, Strategy

VECTORS = ProductVector._meta.db_table
LISTS = ProductNeighbours._meta.db_table
ENCODERS = SpaceEncoder._meta.db_table
# Where a space's candidates came from (CandidateRow.origin).
FROM_LIST = "neighbours"
FROM_INDEX = "index"


@dataclass(frozen=True, eq=False)
class SpaceQuery:
    """A query in one space, for the active encoder of that space: a vector (float32, unit length), or
    the stored vector of `product_id` (whose stored neighbour list may then answer instead of the index)."""

    encoder: ActiveEncoder
    vector: np.ndarray | None = None
    product_id: int | None = None
    # A photo, in a space whose vectors blend in the products' words: compared with their photos' mean alone
    # (embeddings.models.ProductVector.image_embedding, through its own HNSW index).
    photos_only: bool = False

    def stored(self, alias: str) -> str:
        """The stored vector of row `alias` this query is compared with."""
        return photo_mean_sql(alias) if self.photos_only else f"{alias}.embedding"

    @cached_property
    def literal(self) -> str:
        """The SQL parameter: made once per query however many places of the statement use it."""
        assert self.vector is not None
        return vector_literal(self.vector)

    def cte(self, name: str) -> tuple[str, list[Any]]:
        """`name AS MATERIALIZED (SELECT embedding)`: the query vector, computed once per statement."""
        dim = self.encoder.dim
        if self.vector is not None:
            return f"{name} AS MATERIALIZED (SELECT %s::halfvec({dim}) AS embedding)", [self.literal]
        return (
            f"{name} AS MATERIALIZED (SELECT q.embedding::halfvec({dim}) AS embedding FROM {VECTORS} q "
            "WHERE q.product_id = %s AND q.space = %s AND q.encoder = %s)",
            [self.product_id, self.encoder.space, self.encoder.identity],
        )


@dataclass(frozen=True)
class Branch:
    """Extra candidates from outside the vector spaces (e.g. full-text): SQL yielding (product_id, raw)."""

    tag: str
    sql: str
    params: list[Any]


@dataclass
class CandidateRow:
    tag: str
    product_id: int
    raw: float
    visual: float | None
    semantic: float | None
    visual_vector: np.ndarray | None
    semantic_vector: np.ndarray | None
    origin: str = FROM_INDEX
    marks: list[bool] | None = None  # one per boost of the ranking (rules.Rules.marks_sql)
    popularity_score: float | None = None  # its popularity now, when the ranking has a prior (prior.py)


@dataclass
class Fetched:
    """The candidates, and what the statement learnt besides."""

    rows: list[CandidateRow]
    active_encoders: dict[str, str]  # space -> identity, as the database has them now
    has_query: dict[str, bool]  # space -> whether its query vector exists (a product without photos yet)
    source_found: bool = True
    origins: dict[str, str] = field(default_factory=dict)  # space -> FROM_LIST or FROM_INDEX


def _query_name(space: str) -> str:
    return f"q_{space}"


def _index_branch(space: str, query: SpaceQuery, where: str, params: list[Any], k: int, exact: bool) -> Branch:
    dim = query.encoder.dim
    distance = f"(({query.stored('v')})::halfvec({dim}) <=> (SELECT embedding FROM {_query_name(space)}))"
    # The one-time filter: the settings CTE runs before the scan, and no query vector means no scan.
    gate = f"(SELECT ready FROM knn_settings) AND EXISTS (SELECT 1 FROM {_query_name(space)})"
    inner = (
        f"SELECT v.product_id, {distance} AS raw FROM {VECTORS} v JOIN catalog_product p ON p.id = v.product_id "
        f"WHERE {index_predicate_sql('v', space, query.encoder.identity)} AND {gate} AND {where}"
    )
    # The LIMIT is a constant too: planned for an unknown LIMIT (a tenth of the rows), a prepared
    # statement would sort the whole space rather than walk the index.
    if exact:
        # OFFSET 0 keeps the sort outside the subquery: the HNSW index cannot serve it.
        sql = f"SELECT product_id, raw FROM ({inner} OFFSET 0) s ORDER BY raw, product_id LIMIT {int(k)}"
    else:
        sql = f"{inner} ORDER BY raw LIMIT {int(k)}"
    return Branch(tag=space, sql=sql, params=list(params))


def _list_cte(space: str, query: SpaceQuery, where: str, params: list[Any], k: int) -> tuple[str, list[Any]]:
    """The first k entries of the product's stored list in `space` that pass the filters, nearest first."""
    return (
        f"list_{space} AS MATERIALIZED ("
        f"SELECT u.id AS product_id, (1 - u.s)::float8 AS raw FROM {LISTS} n "
        "CROSS JOIN LATERAL unnest(n.neighbour_ids, n.similarities) WITH ORDINALITY AS u(id, s, o) "
        "JOIN catalog_product p ON p.id = u.id "
        f"WHERE n.product_id = %s AND n.space = %s AND n.encoder = %s AND {where} ORDER BY u.o LIMIT %s)",
        [query.product_id, space, query.encoder.identity, *params, k],
    )


def _score_sql(space: str, alias: str, query: SpaceQuery | None, with_vectors: bool) -> tuple[str, str, list[Any]]:
    """(select columns, join, params) scoring candidate rows against `query` in `space`."""
    if query is None:
        return ("NULL::float8, NULL::bytea" if with_vectors else "NULL::float8"), "", []
    dim = query.encoder.dim
    stored = query.stored(alias)
    columns = f"1 - (({stored})::halfvec({dim}) <=> (SELECT embedding FROM {_query_name(space)}))"
    if with_vectors:
        columns += f", {halfvec_send_sql(stored)}"
    join = (
        f"LEFT JOIN {VECTORS} {alias} ON {alias}.product_id = cand.product_id "
        f"AND {alias}.space = %s AND {alias}.encoder = %s"
    )
    return columns, join, [space, query.encoder.identity]


def fetch_candidates(
    *,
    plan: Plan,
    spaces: dict[str, SpaceQuery],
    scoring: dict[str, SpaceQuery | None],
    where: str,
    where_params: list[Any],
    k: int,
    extra: list[Branch] | None = None,
    with_vectors: bool = False,
    source_product_id: int | None = None,
    marks: tuple[str, list[Any]] | None = None,
    popularity: tuple[str, list[Any]] | None = None,
    prepare: bool = False,
) -> Fetched:
    """Candidates of every branch, each scored exactly in the visual and semantic spaces: one statement.

    `marks`: an expression over the candidate's catalog_product row `p` (the merchandising boosts it
    matches), returned with each candidate; the row is joined only then. `popularity`: an expression
    over the candidate's id `cand.product_id` (its popularity now), returned with each candidate.
    `prepare`: run it as a prepared statement with a generic plan (config.prepared_statements), for a
    statement whose best plan does not depend on its parameters' values."""
    exact = plan.strategy == Strategy.EXACT
    ctes: list[tuple[str, list[Any]]] = [
        (
            "knn_settings AS MATERIALIZED (SELECT set_config('hnsw.ef_search', %s, true) IS NOT NULL "
            "AND set_config('hnsw.iterative_scan', %s, true) IS NOT NULL "
            "AND set_config('hnsw.max_scan_tuples', %s, true) IS NOT NULL AS ready)",
            [
                str(plan.ef_search),
                "relaxed_order" if plan.strategy == Strategy.ITERATIVE else "off",
                str(plan.max_scan_tuples),
            ],
        )
    ]
    queries = {space: query for space, query in scoring.items() if query is not None}
    for space, query in spaces.items():
        queries.setdefault(space, query)
    ctes += [query.cte(_query_name(space)) for space, query in queries.items()]
    branches: list[tuple[str, str, str, list[Any]]] = []  # (tag, origin, sql, params)
    for space, query in spaces.items():
        index = _index_branch(space, query, where, where_params, k, exact)
        if query.product_id is None:
            branches.append((space, FROM_INDEX, index.sql, index.params))
            continue
        ctes.append(_list_cte(space, query, where, where_params, k))
        enough = f"(SELECT count(*) FROM list_{space}) >= %s"
        branches.append((space, FROM_LIST, f"SELECT product_id, raw FROM list_{space} WHERE {enough}", [k]))
        # Only when the list falls short (a one-time filter: otherwise the index is never touched).
        branches.append((space, FROM_INDEX, f"SELECT * FROM ({index.sql}) i WHERE NOT {enough}", [*index.params, k]))
    branches += [(b.tag, FROM_INDEX, b.sql, b.params) for b in extra or []]
    union = " UNION ALL ".join(
        f"(SELECT %s AS tag, %s AS origin, b.product_id, b.raw FROM ({sql}) b)" for *_, sql, _ in branches
    )
    union_params: list[Any] = []
    for tag, origin, _, params in branches:
        union_params += [tag, origin, *params]
    ctes.append((f"cand AS MATERIALIZED ({union})", union_params))

    score_columns, joins, join_params = [], [], []
    for space in ("visual", "semantic"):
        columns, join, params = _score_sql(space, f"sv_{space}", scoring.get(space), with_vectors)
        score_columns.append(columns)
        joins.append(join)
        join_params += params
    column_params: list[Any] = []
    if marks is not None:
        score_columns.append(marks[0])
        column_params = marks[1]  # in the select list: after the CTEs' parameters, before the joins'
        joins.append("LEFT JOIN catalog_product p ON p.id = cand.product_id")
    if popularity is not None:
        score_columns.append(popularity[0])
        column_params = [*column_params, *popularity[1]]
    found = "EXISTS (SELECT 1 FROM catalog_product WHERE id = %s)" if source_product_id is not None else "TRUE"
    has_query = ", ".join(f"EXISTS (SELECT 1 FROM {_query_name(space)})" for space in queries) or "NULL"
    meta = (
        f"SELECT {found} AS found, "
        f"(SELECT array_agg(e.space || ' ' || e.encoder) FROM {ENCODERS} e WHERE e.state = %s) AS actives, "
        f"ARRAY[{has_query}]::bool[] AS has_query"
    )
    meta_params: list[Any] = [
        *([source_product_id] if source_product_id is not None else []),
        EncoderState.ACTIVE.value,
    ]
    # The whole of it is the one CTE `c`: the candidates, scored, as the statement returns them.
    sql = (
        "WITH c AS MATERIALIZED (WITH " + ", ".join(text for text, _ in ctes) + f", meta AS MATERIALIZED ({meta}) "
        f"SELECT meta.found, meta.actives, meta.has_query, cand.tag, cand.origin, cand.product_id, cand.raw, "
        f"{', '.join(score_columns)} FROM meta LEFT JOIN cand ON TRUE {' '.join(joins)}) SELECT * FROM c"
    )
    params = [value for _, values in ctes for value in values] + meta_params + column_params + join_params
    with prepared_cursor(connection) if prepare else connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    first = rows[0]
    actives = dict(entry.split(" ", 1) for entry in first[1] or [])
    fetched = Fetched(
        rows=[
            _row(row[3:], with_vectors, marks is not None, popularity is not None) for row in rows if row[3] is not None
        ],
        active_encoders=actives,
        has_query=dict(zip(queries, first[2], strict=False)) if queries else {},
        source_found=bool(first[0]),
    )
    for row in fetched.rows:
        if row.tag in spaces:
            fetched.origins[row.tag] = row.origin
    return fetched


def _row(row: tuple[Any, ...], with_vectors: bool, with_marks: bool, with_popularity: bool) -> CandidateRow:
    tag, origin, product_id, raw = row[:4]
    # After the scores, in the select list's order: the marks, then the popularity.
    end = len(row) - int(with_popularity)
    popularity = row[end] if with_popularity else None
    marks = list(row[end - 1]) if with_marks else None
    scores = row[4 : end - int(with_marks)]
    if with_vectors:
        visual, visual_wire, semantic, semantic_wire = scores
        return CandidateRow(
            tag,
            product_id,
            raw,
            visual,
            semantic,
            halfvec_from_wire(visual_wire),
            halfvec_from_wire(semantic_wire),
            origin,
            marks,
            popularity,
        )
    visual, semantic = scores
    return CandidateRow(tag, product_id, raw, visual, semantic, None, None, origin, marks, popularity)
