"""Which encoders serve queries, and the query vectors of a ranking by vectors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

import numpy as np

from config.process_cache import ProcessCache
from embeddings import selectors
from embeddings.models import Space
from embeddings.selectors import ActiveEncoder
from recommender.storefront.selectors.filters import Exclusions, ProductFilters
from recommender.storefront.selectors.knn import SpaceQuery
from recommender.storefront.selectors.prior import PopularityPrior
from recommender.storefront.selectors.ranking import Ranking, RankSpec, StaleEncoders, rank_page
from recommender.storefront.selectors.rules import Rules
from recommender.storefront.selectors.scoring import Weights

T = TypeVar("T")


class Mode(StrEnum):
    VISUAL = "visual"
    SEMANTIC = "semantic"
    HYBRID = "hybrid"


# An encoder switch is rare, and every ranking statement reports the active encoders
# (knn.Fetched.active_encoders): a stale entry is found in the round trip that used it,
# and the request is ranked again with fresh ones (serving_encoders_retry). The TTL only
# bounds how stale the encoders of a request that runs no ranking can be.
_encoders: ProcessCache[str, dict[str, ActiveEncoder]] = ProcessCache(ttl_seconds=60.0)


def serving_encoders() -> dict[str, ActiveEncoder]:
    """Both spaces' active encoders by space (a space with none yet is absent); cached per process."""
    return _encoders.get("active", lambda: {e.space: e for e in selectors.active_encoders()})


def serving_encoders_retry(rank: Callable[[dict[str, ActiveEncoder]], T]) -> T:
    """rank(encoders), once more with fresh encoders if the ranking found them switched meanwhile."""
    try:
        return rank(serving_encoders())
    except StaleEncoders:
        _encoders.forget()
        return rank(serving_encoders())


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
    rules: Rules = field(default_factory=Rules)  # merchandising: boosts and pins (rules.py)
    popularity: PopularityPrior | None = None  # only /recommendations/ asks for one (prior.py)


def vector_queries(vectors: dict[str, np.ndarray], encoders: dict[str, ActiveEncoder]) -> dict[str, SpaceQuery]:
    """Query vectors computed here (a photo, words, a history's centroid) as SpaceQuery per space."""
    return {space: SpaceQuery(encoder=encoders[space], vector=v) for space, v in vectors.items() if space in encoders}


def stored_queries(product_id: int, encoders: dict[str, ActiveEncoder]) -> dict[str, SpaceQuery]:
    """The product's own stored vectors as the queries, looked up by the ranking statement itself."""
    return {space: SpaceQuery(encoder=encoder, product_id=product_id) for space, encoder in encoders.items()}


def vector_ranking(
    query: VectorQuery,
    *,
    queries: dict[str, SpaceQuery],
    exclusions: Exclusions | None = None,
    source_product_id: int | None = None,
) -> Ranking:
    """Rank by `queries` (space -> the query in that space's active encoder)."""
    wanted = [Space.VISUAL.value, Space.SEMANTIC.value] if query.mode == Mode.HYBRID else [query.mode.value]
    spaces = {space: queries[space] for space in wanted if space in queries}
    encoder_ids = {space: q.encoder.identity for space, q in queries.items()}
    if not spaces:
        reason = "no query vector in the active encoders' spaces (photos not embedded yet?)"
        diagnostics = {"strategy": "none", "reason": reason, "encoders": encoder_ids}
        return Ranking(items=[], has_more=False, diagnostics=diagnostics)
    spec = RankSpec(
        spaces=spaces,
        scoring={space: queries.get(space) for space in (Space.VISUAL.value, Space.SEMANTIC.value)},
        filters=query.filters,
        exclusions=exclusions or Exclusions(),
        weights=query.weights,
        diversity=query.diversity,
        max_similarity=query.max_similarity,
        source_product_id=source_product_id,
        rules=query.rules,
        popularity=query.popularity,
    )
    ranking = rank_page(spec, offset=query.offset, limit=query.limit)
    ranking.diagnostics["spaces_queried"] = ranking.diagnostics.pop("spaces_with_query", sorted(spaces))
    ranking.diagnostics["encoders"] = encoder_ids
    excluded = spec.exclusions.applied() + (["max_similarity"] if spec.max_similarity is not None else [])
    if excluded:
        ranking.diagnostics["excluded"] = excluded
    return ranking
