"""POST /recommendations/: cold start from a short history, words, or nothing at all.

Words come in already embedded (the view runs the text tower before it opens
the request's transaction); the history's centroids are one SQL aggregate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db import connection

from embeddings.selectors import ActiveEncoder
from embeddings.vector_codec import halfvec_from_wire, halfvec_send_sql
from recommender.storefront.selectors.filters import Exclusions, ProductFilters
from recommender.storefront.selectors.knn import VECTORS
from recommender.storefront.selectors.prior import popularity_prior
from recommender.storefront.selectors.ranking import Ranking
from recommender.storefront.selectors.rules import Rules
from recommender.storefront.selectors.scoring import Weights
from recommender.storefront.selectors.spaces import Mode, VectorQuery, vector_queries, vector_ranking
from recommender.storefront.selectors.starter import starter_set

# Rocchio weights: a like says more than a view; a dislike pushes the query away.
LIKED_WEIGHT = 1.0
VIEWED_WEIGHT = 0.5
DISLIKED_WEIGHT = 0.5
QUERY_WEIGHT = 1.0


@dataclass(frozen=True, eq=False)
class ColdStart:
    viewed: tuple[int, ...]
    liked: tuple[int, ...]
    disliked: tuple[int, ...]
    query_vector: np.ndarray | None  # the shopper's words in the semantic space, if any
    filters: ProductFilters
    diversity: float
    offset: int
    limit: int
    rules: Rules = field(default_factory=Rules)  # merchandising: boosts and pins (rules.py)
    # 0..1, 0 off: the popularity prior (prior.py) of a ranking by history or words; the starter
    # set is ranked with popularity already, and ignores it.
    popularity_weight: float = 0.0


@dataclass
class _History:
    """What the statement below learns about a history, in one round trip."""

    known: set[int]  # the history's ids that name a product
    disliked_groups: set[str]  # the variant groups of the disliked products
    centroids: dict[str, dict[str, np.ndarray]]  # space -> "liked"|"viewed"|"disliked" -> mean vector


def _history(request: ColdStart, encoders: dict[str, ActiveEncoder]) -> _History:
    """The history's products and its centroids per space (avg() over halfvec in SQL): one statement."""
    examples = [*request.liked, *request.viewed, *request.disliked]
    pairs = " OR ".join("(space = %s AND encoder = %s)" for _ in encoders) or "FALSE"
    encoder_params: list[Any] = [value for e in encoders.values() for value in (e.space, e.identity)]
    averages = ", ".join(
        halfvec_send_sql("avg(embedding) FILTER (WHERE product_id = ANY(%s))") for _ in ("liked", "viewed", "disliked")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH known AS MATERIALIZED (SELECT id, product_group FROM catalog_product WHERE id = ANY(%s)), "
            f"centroids AS (SELECT space, {averages} FROM {VECTORS} "
            f"WHERE product_id = ANY(%s) AND ({pairs}) GROUP BY space) "
            "SELECT (SELECT array_agg(id) FROM known), "
            "(SELECT array_agg(DISTINCT product_group) FROM known WHERE id = ANY(%s) AND product_group <> ''), "
            "centroids.* FROM (SELECT 1) AS one LEFT JOIN centroids ON TRUE",
            [
                examples,
                list(request.liked),
                list(request.viewed),
                list(request.disliked),
                examples,
                *encoder_params,
                list(request.disliked),
            ],
        )
        rows = cursor.fetchall()
    history = _History(known=set(rows[0][0] or []), disliked_groups=set(rows[0][1] or []), centroids={})
    for _, _, space, liked, viewed, disliked in rows:
        if space is None:
            continue
        found = {
            "liked": halfvec_from_wire(liked),
            "viewed": halfvec_from_wire(viewed),
            "disliked": halfvec_from_wire(disliked),
        }
        history.centroids[space] = {name: vector for name, vector in found.items() if vector is not None}
    return history


def _rocchio(centroids: dict[str, np.ndarray], extra: np.ndarray | None = None) -> np.ndarray | None:
    query = None
    for name, weight in (("liked", LIKED_WEIGHT), ("viewed", VIEWED_WEIGHT)):
        if name in centroids:
            query = weight * centroids[name] if query is None else query + weight * centroids[name]
    if extra is not None:
        query = QUERY_WEIGHT * extra if query is None else query + QUERY_WEIGHT * extra
    if query is None:
        return None  # only dislikes: nothing to move towards
    if "disliked" in centroids:
        query = query - DISLIKED_WEIGHT * centroids["disliked"]
    norm = float(np.linalg.norm(query))
    return query / norm if norm > 1e-6 else None


def recommendations(request: ColdStart, *, encoders: dict[str, ActiveEncoder]) -> Ranking:
    """Rocchio over the history's vectors (and words); a diverse starter set without either.

    Ids that name no product (deleted since the storefront remembered them, or never
    there) are left out and listed in diagnostics.ignored_ids: a history outlives
    the catalogue it was made on, so this is no error.
    """
    examples = {*request.viewed, *request.liked, *request.disliked}
    history = _history(request, encoders) if examples else _History(known=set(), disliked_groups=set(), centroids={})
    ranking = _recommend(request, encoders, history)
    lists = {"viewed": request.viewed, "liked": request.liked, "disliked": request.disliked}
    unknown = {name: sorted(set(ids) - history.known) for name, ids in lists.items()}
    if any(unknown.values()):
        ranking.diagnostics["ignored_ids"] = {name: ids for name, ids in unknown.items() if ids}
    return ranking


def _recommend(request: ColdStart, encoders: dict[str, ActiveEncoder], history: _History) -> Ranking:
    examples = {*request.viewed, *request.liked, *request.disliked}
    # The shopper has seen these; variants of a disliked product are unwanted too.
    exclusions = Exclusions(product_ids=tuple(sorted(examples)), product_groups=tuple(sorted(history.disliked_groups)))
    vectors: dict[str, np.ndarray] = {}
    for space in encoders:
        query = _rocchio(history.centroids.get(space, {}), request.query_vector if space == "semantic" else None)
        if query is not None:
            vectors[space] = query
    if not vectors:
        return starter_set(
            encoder=encoders.get("visual"),
            filters=request.filters,
            exclusions=exclusions,
            offset=request.offset,
            limit=request.limit,
            rules=request.rules,
        )
    ranked_as = VectorQuery(
        mode=Mode.HYBRID,
        weights=Weights(visual=0.5, semantic=0.5),
        filters=request.filters,
        diversity=request.diversity,
        offset=request.offset,
        limit=request.limit,
        rules=request.rules,
        popularity=popularity_prior(request.popularity_weight),
    )
    return vector_ranking(ranked_as, queries=vector_queries(vectors, encoders), exclusions=exclusions)
