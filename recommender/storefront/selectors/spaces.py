"""Which encoders serve queries, and the stored vectors of given products."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from django.db import connection

from embeddings.models import EncoderState, Space, SpaceEncoder
from embeddings.selectors import ActiveEncoder
from embeddings.vector_codec import halfvec_from_wire, halfvec_send_sql
from recommender.storefront.selectors.filters import Exclusions, ProductFilters
from recommender.storefront.selectors.knn import VECTORS, SpaceQuery
from recommender.storefront.selectors.ranking import Ranking, RankSpec, rank_page
from recommender.storefront.selectors.scoring import Weights


class Mode(StrEnum):
    VISUAL = "visual"
    SEMANTIC = "semantic"
    HYBRID = "hybrid"


def active_encoders() -> dict[str, ActiveEncoder]:
    """Both spaces' active encoders in one query (a space with none yet is absent)."""
    rows = SpaceEncoder.objects.filter(state=EncoderState.ACTIVE).values_list("space", "encoder", "dim")
    return {space: ActiveEncoder(space=space, identity=identity, dim=dim) for space, identity, dim in rows}


def active_encoders_with_vectors(product_id: int) -> tuple[dict[str, ActiveEncoder], dict[str, np.ndarray]]:
    """The active encoders and `product_id`'s vectors under them (binary, never parsed from text), in one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT se.space, se.encoder, se.dim, {halfvec_send_sql('v.embedding')} "
            f"FROM {SpaceEncoder._meta.db_table} se "
            f"LEFT JOIN {VECTORS} v ON v.product_id = %s AND v.space = se.space AND v.encoder = se.encoder "
            f"WHERE se.state = %s",
            [product_id, EncoderState.ACTIVE.value],
        )
        rows = cursor.fetchall()
    encoders = {space: ActiveEncoder(space=space, identity=identity, dim=dim) for space, identity, dim, _ in rows}
    vectors = {space: halfvec_from_wire(wire) for space, _, _, wire in rows}
    return encoders, {space: vector for space, vector in vectors.items() if vector is not None}


def mode_weights(mode: Mode, visual_weight: float, semantic_weight: float) -> Weights:
    if mode == Mode.VISUAL:
        return Weights(visual=1.0, semantic=0.0)
    if mode == Mode.SEMANTIC:
        return Weights(visual=0.0, semantic=1.0)
    return Weights(visual=visual_weight, semantic=semantic_weight)


@dataclass(frozen=True)
class VectorQuery:
    """How a ranking by query vectors is asked for: /similar/, /search/image/ and /recommendations/ share it."""

    mode: Mode
    weights: Weights
    filters: ProductFilters
    diversity: float
    offset: int
    limit: int
    # Visual similarity ceiling: closer products are re-listed copies (only /similar/ sets it).
    max_similarity: float | None = None


def vector_ranking(
    query: VectorQuery,
    *,
    vectors: dict[str, np.ndarray],
    encoders: dict[str, ActiveEncoder],
    exclusions: Exclusions | None = None,
) -> Ranking:
    """Rank by `vectors` (space -> the query in that space's active encoder, float32, unit length)."""
    queries = {
        space: SpaceQuery(encoder=encoders[space], vector=vector)
        for space, vector in vectors.items()
        if space in encoders
    }
    wanted = [Space.VISUAL.value, Space.SEMANTIC.value] if query.mode == Mode.HYBRID else [query.mode.value]
    spaces = {space: queries[space] for space in wanted if space in queries}
    encoder_ids = {space: encoder.identity for space, encoder in encoders.items()}
    if not spaces:
        reason = "no query vector in the active encoders' spaces (photos not embedded yet?)"
        diagnostics = {"strategy": "none", "reason": reason, "encoders": encoder_ids}
        return Ranking(items=[], has_more=False, diagnostics=diagnostics)
    weights = query.weights
    if query.mode == Mode.HYBRID and len(spaces) == 1:
        # Only one space has a query vector (e.g. photos still embedding): rank by that space alone.
        only = next(iter(spaces))
        weights = mode_weights(Mode(only), 0.0, 0.0)
    spec = RankSpec(
        spaces=spaces,
        scoring={space: queries.get(space) for space in (Space.VISUAL.value, Space.SEMANTIC.value)},
        filters=query.filters,
        exclusions=exclusions or Exclusions(),
        weights=weights,
        diversity=query.diversity,
        max_similarity=query.max_similarity,
    )
    ranking = rank_page(spec, offset=query.offset, limit=query.limit)
    ranking.diagnostics["spaces_queried"] = sorted(spaces)
    ranking.diagnostics["weights"] = {"visual": weights.visual, "semantic": weights.semantic}
    ranking.diagnostics["encoders"] = encoder_ids
    return ranking
