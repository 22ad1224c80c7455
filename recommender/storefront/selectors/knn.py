"""One SQL statement that fetches k-NN candidates per space and scores them in both spaces.

Each space's branch repeats the indexed expression and predicate
(`knn_distance_sql`, `space = … AND encoder = …`) and orders by the distance
with a LIMIT, which is the only shape the partial HNSW index serves. The exact
path fences the same branch with `OFFSET 0` so the planner cannot turn it back
into an index scan that would filter after the fact. The candidates of every
branch are then scored exactly against both query vectors in the same
statement: one round trip, and every score is exact whichever path found it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from django.db import connection, transaction

from embeddings.models import ProductVector
from embeddings.selectors import ActiveEncoder
from embeddings.vector_codec import halfvec_from_wire, halfvec_send_sql, vector_literal
from embeddings.vector_indexes import knn_distance_sql
from recommender.storefront.selectors.planning import Plan, Strategy

VECTORS = ProductVector._meta.db_table


@dataclass(frozen=True, eq=False)
class SpaceQuery:
    """A query vector in one space, for the active encoder of that space (float32, unit length)."""

    encoder: ActiveEncoder
    vector: np.ndarray

    @cached_property
    def literal(self) -> str:
        """The SQL parameter: made once per query however many places of the statement use it."""
        return vector_literal(self.vector)


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


def _space_branch(space: str, query: SpaceQuery, where: str, params: list[Any], k: int, exact: bool) -> Branch:
    distance = knn_distance_sql("v", query.encoder.dim)
    inner = (
        f"SELECT v.product_id, {distance} AS raw FROM {VECTORS} v JOIN catalog_product p ON p.id = v.product_id "
        f"WHERE v.space = %s AND v.encoder = %s AND {where}"
    )
    inner_params = [query.literal, space, query.encoder.identity, *params]
    if exact:
        # OFFSET 0 keeps the sort outside the subquery: the HNSW index cannot serve it.
        sql = f"SELECT product_id, raw FROM ({inner} OFFSET 0) s ORDER BY raw, product_id LIMIT %s"
    else:
        sql = f"{inner} ORDER BY raw LIMIT %s"
    return Branch(tag=space, sql=sql, params=[*inner_params, k])


def _score_sql(space: str, alias: str, query: SpaceQuery | None, with_vectors: bool) -> tuple[str, str, list[Any]]:
    """(select columns, join, params) scoring candidate rows against `query` in `space`."""
    if query is None:
        return ("NULL::float8, NULL::bytea" if with_vectors else "NULL::float8"), "", []
    dim = query.encoder.dim
    columns = f"1 - ({alias}.embedding::halfvec({dim}) <=> %s::halfvec({dim}))"
    if with_vectors:
        columns += f", {halfvec_send_sql(alias + '.embedding')}"
    join = (
        f"LEFT JOIN {VECTORS} {alias} ON {alias}.product_id = c.product_id "
        f"AND {alias}.space = %s AND {alias}.encoder = %s"
    )
    return columns, join, [query.literal, space, query.encoder.identity]


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
) -> list[CandidateRow]:
    """Candidates of every branch, each scored exactly in the visual and semantic spaces."""
    exact = plan.strategy == Strategy.EXACT
    branches = [_space_branch(space, query, where, where_params, k, exact) for space, query in spaces.items()]
    branches += extra or []
    union = " UNION ALL ".join(f"(SELECT %s AS tag, b.product_id, b.raw FROM ({b.sql}) b)" for b in branches)
    params: list[Any] = []
    for branch in branches:
        params += [branch.tag, *branch.params]
    visual_cols, visual_join, visual_params = _score_sql("visual", "sv_visual", scoring.get("visual"), with_vectors)
    semantic_cols, semantic_join, semantic_params = _score_sql(
        "semantic", "sv_semantic", scoring.get("semantic"), with_vectors
    )
    sql = (
        f"WITH c AS MATERIALIZED ({union}) "
        f"SELECT c.tag, c.product_id, c.raw, {visual_cols}, {semantic_cols} FROM c {visual_join} {semantic_join}"
    )
    # Column params come before join params in the statement text.
    params = (
        params
        + visual_params[:1]
        + semantic_params[:1]
        + (visual_params[1:] if visual_params else [])
        + (semantic_params[1:] if semantic_params else [])
    )
    # set_config(..., true) is SET LOCAL: it lasts until the end of the transaction,
    # and on an autocommit connection it would vanish before the query ran. The
    # view usually holds a transaction already (savepoint=False then adds nothing).
    # Parallel workers are switched off: on a small box their start-up costs more
    # than the few thousand rows an exact scan touches, and they steal cores from
    # concurrent requests.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('hnsw.ef_search', %s, true), set_config('hnsw.iterative_scan', %s, true), "
            "set_config('hnsw.max_scan_tuples', %s, true), set_config('max_parallel_workers_per_gather', '0', true)",
            [
                str(plan.ef_search),
                "relaxed_order" if plan.strategy == Strategy.ITERATIVE else "off",
                str(plan.max_scan_tuples),
            ],
        )
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [_row(row, with_vectors) for row in rows]


def _row(row: tuple[Any, ...], with_vectors: bool) -> CandidateRow:
    if with_vectors:
        tag, product_id, raw, visual, visual_wire, semantic, semantic_wire = row
        return CandidateRow(
            tag, product_id, raw, visual, semantic, halfvec_from_wire(visual_wire), halfvec_from_wire(semantic_wire)
        )
    tag, product_id, raw, visual, semantic = row
    return CandidateRow(tag, product_id, raw, visual, semantic, None, None)
