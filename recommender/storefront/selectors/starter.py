"""The cold-start starter set: the catalogue's main visual clusters, a few fresh in-stock products from each.

Clusters come from k-means over a sample of product vectors (a block sample,
so a million-row table is not read whole), and each cluster's nearest products
from the HNSW index. The result is cached in Redis for RECOMMENDER_STARTER_TTL
seconds per visual encoder (beat recomputes it before then): computing it costs
one sample read, a few hundred milliseconds of k-means and one k-NN per cluster.
Filters and stock change far more often than clusters, so they are applied per
request to the cached representatives.

Popular products (recommender.feedback: recent clicks, carts and purchases,
decayed) join their nearest cluster too and get a bonus within it, so the set
is popular *and* diverse: a run on one kind of product cannot fill it, since
every cluster still takes its turn.

Products embedded after the clusters were computed join them at once: each
request reads the vectors written since (newest first, at most
RECENT_ASSIGNED, through the product_vector_recent index) and assigns each
to its nearest cached centre, so a new product is in the starter set seconds
after it is embedded, not after the next k-means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from embeddings.selectors import ActiveEncoder
from embeddings.vector_codec import halfvec_from_wire, halfvec_send_sql, vector_literal
from embeddings.vector_indexes import knn_distance_sql
from recommender.feedback.selectors.popularity import Popular, popular_products
from recommender.storefront.selectors.filters import Exclusions, ProductFilters, filter_sql
from recommender.storefront.selectors.knn import VECTORS
from recommender.storefront.selectors.ranking import Ranking
from recommender.storefront.selectors.rules import Rules, apply_boosts, place_pins, split_pinned, unplaced
from recommender.storefront.selectors.scoring import Scored

REPRESENTATIVES_PER_CLUSTER = 30
# Vectors written since the last k-means that a request assigns to the cached centres: more
# than this many new products between two refreshes wait for the next one.
RECENT_ASSIGNED = 500
KMEANS_ITERATIONS = 15
# A product's freshness bonus halves every FRESHNESS_HALF_LIFE_DAYS; at most FRESHNESS_WEIGHT.
FRESHNESS_WEIGHT = 0.1
FRESHNESS_HALF_LIFE_DAYS = 30.0
# The most popular products considered per request, and the bonus of the most popular one
# (the others' in proportion to their score): enough to lead its cluster, not to leave it.
POPULAR_CONSIDERED = 100
POPULARITY_WEIGHT = 0.1


@dataclass(frozen=True)
class Cluster:
    size: int  # sampled vectors in the cluster: how much of the catalogue it stands for
    members: tuple[tuple[int, float], ...]  # (product_id, similarity to the centre), nearest first


@dataclass(frozen=True)
class Clusters:
    """The clusters (biggest first), their unit centres in the same order, and when they were computed."""

    clusters: list[Cluster]
    centres: np.ndarray  # (len(clusters), dim) float32
    computed_at: datetime

    def with_assigned(self, recent: list[tuple[int, np.ndarray]]) -> list[Cluster]:
        """The clusters with each (product_id, vector) not yet a member added to its nearest centre."""
        if not recent or not self.clusters:
            return self.clusters
        listed = {pid for cluster in self.clusters for pid, _ in cluster.members}
        fresh = [(pid, vector) for pid, vector in recent if pid not in listed]
        if not fresh:
            return self.clusters
        similarity = np.stack([vector for _, vector in fresh]) @ self.centres.T
        nearest = np.argmax(similarity, axis=1)
        added: dict[int, list[tuple[int, float]]] = {}
        for row, (pid, _) in enumerate(fresh):
            added.setdefault(int(nearest[row]), []).append((pid, float(similarity[row, nearest[row]])))
        return [
            Cluster(
                size=cluster.size,
                members=tuple(sorted((*cluster.members, *added.get(index, [])), key=lambda member: -member[1])),
            )
            for index, cluster in enumerate(self.clusters)
        ]


def _sample(encoder: ActiveEncoder, size: int) -> np.ndarray:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT reltuples::bigint FROM pg_class WHERE oid = '{VECTORS}'::regclass")
        rows = max(int(cursor.fetchone()[0]), 1)
        # SYSTEM samples whole pages: cost follows the sample, not the table. Oversample 3x because
        # the table holds both spaces (and maybe retired encoders), then keep `size`.
        percent = min(100.0, 100.0 * 3 * size / rows)
        cursor.execute(
            f"SELECT {halfvec_send_sql('embedding')} FROM {VECTORS} TABLESAMPLE SYSTEM (%s) REPEATABLE (42) "
            f"WHERE space = %s AND encoder = %s LIMIT %s",
            [percent, encoder.space, encoder.identity, size],
        )
        vectors = [halfvec_from_wire(data) for (data,) in cursor.fetchall()]
    return np.stack([v for v in vectors if v is not None]) if vectors else np.zeros((0, encoder.dim), np.float32)


def kmeans(vectors: np.ndarray, k: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Spherical k-means (cosine) with k-means++ seeding: (unit centres, sizes)."""
    rng = np.random.default_rng(seed)
    k = min(k, len(vectors))
    centres = [vectors[rng.integers(len(vectors))]]
    for _ in range(1, k):
        distance = 1 - np.max(vectors @ np.stack(centres).T, axis=1)
        weights = np.clip(distance, 0, None) ** 2
        total = float(weights.sum())
        pick = rng.choice(len(vectors), p=weights / total) if total > 0 else rng.integers(len(vectors))
        centres.append(vectors[pick])
    matrix = np.stack(centres)
    for _ in range(KMEANS_ITERATIONS):
        assignment = np.argmax(vectors @ matrix.T, axis=1)
        for index in range(k):
            members = vectors[assignment == index]
            if len(members):
                mean = members.mean(axis=0)
                matrix[index] = mean / max(float(np.linalg.norm(mean)), 1e-12)
    sizes = np.bincount(np.argmax(vectors @ matrix.T, axis=1), minlength=k)
    return matrix, sizes


def _representatives(encoder: ActiveEncoder, centres: np.ndarray) -> list[list[tuple[int, float]]]:
    distance = knn_distance_sql("v", encoder.dim)
    branch = (
        f"(SELECT %s AS cluster, v.product_id, {distance} AS distance FROM {VECTORS} v "
        f"JOIN catalog_product p ON p.id = v.product_id "
        f"WHERE v.space = %s AND v.encoder = %s AND p.is_active ORDER BY distance LIMIT %s)"
    )
    params: list[Any] = []
    for index, centre in enumerate(centres):
        params += [index, vector_literal(centre), encoder.space, encoder.identity, REPRESENTATIVES_PER_CLUSTER]
    members: list[list[tuple[int, float]]] = [[] for _ in centres]
    # ef_search must cover the LIMIT, and set_config(..., true) only lasts inside a transaction.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('hnsw.ef_search', %s, true)", [str(settings.RECOMMENDER_EF_SEARCH)])
        cursor.execute(" UNION ALL ".join([branch] * len(centres)), params)
        for cluster, product_id, dist in cursor.fetchall():
            members[cluster].append((product_id, 1 - float(dist)))
    return members


def _cache_key(encoder: ActiveEncoder) -> str:
    return f"recommender:starter:{encoder.identity}"


def starter_clusters(encoder: ActiveEncoder, *, refresh: bool = False) -> Clusters | None:
    """The visual clusters (cached; computed on a miss or when `refresh`); None before anything is embedded."""
    cached = None if refresh else cache.get(_cache_key(encoder))
    if isinstance(cached, dict) and cached.get("version") == 2:
        return Clusters(
            clusters=[Cluster(size=size, members=tuple(map(tuple, members))) for size, members in cached["clusters"]],
            centres=np.frombuffer(cached["centres"], dtype=np.float32).reshape(-1, encoder.dim),
            computed_at=cached["computed_at"],
        )
    # Taken before the sample is read: a vector written while k-means runs counts as recent, not lost.
    computed_at = timezone.now()
    sample = _sample(encoder, settings.RECOMMENDER_STARTER_SAMPLE)
    if len(sample) == 0:
        return None
    centres, sizes = kmeans(sample, settings.RECOMMENDER_STARTER_CLUSTERS)
    members = _representatives(encoder, centres)
    kept = sorted(
        (index for index, found in enumerate(members) if found), key=lambda index: (-int(sizes[index]), index)
    )
    result = Clusters(
        clusters=[Cluster(size=int(sizes[index]), members=tuple(members[index])) for index in kept],
        centres=np.ascontiguousarray(centres[kept], dtype=np.float32),
        computed_at=computed_at,
    )
    # Two requests may compute it at once after expiry; both write an equivalent answer, so no lock.
    cache.set(
        _cache_key(encoder),
        {
            "version": 2,
            "clusters": [(c.size, list(c.members)) for c in result.clusters],
            "centres": result.centres.tobytes(),
            "computed_at": computed_at,
        },
        settings.RECOMMENDER_STARTER_TTL,
    )
    return result


def _assignable_vectors(encoder: ActiveEncoder, *, since: datetime, popular: list[int]) -> list[tuple[int, np.ndarray]]:
    """(product_id, vector) of this encoder's vectors written after `since` (newest first, at most
    RECENT_ASSIGNED) and of the `popular` products, in one statement."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"(SELECT product_id, {halfvec_send_sql('embedding')} FROM {VECTORS} "
            f"WHERE space = %s AND encoder = %s AND updated_at > %s ORDER BY updated_at DESC LIMIT %s) "
            f"UNION ALL (SELECT product_id, {halfvec_send_sql('embedding')} FROM {VECTORS} "
            f"WHERE space = %s AND encoder = %s AND product_id = ANY(%s))",
            [encoder.space, encoder.identity, since, RECENT_ASSIGNED, encoder.space, encoder.identity, popular],
        )
        rows = [(pid, halfvec_from_wire(data)) for pid, data in cursor.fetchall()]
    return [(pid, vector) for pid, vector in rows if vector is not None]


def _popularity_bonus(popular: list[Popular]) -> dict[int, float]:
    top = max((item.score for item in popular), default=0.0)
    return {item.product_id: POPULARITY_WEIGHT * item.score / top for item in popular} if top > 0 else {}


def _freshness(created_at: datetime, now: datetime) -> float:
    age_days = max((now - created_at).total_seconds() / 86400, 0.0)
    return FRESHNESS_WEIGHT * math.pow(0.5, age_days / FRESHNESS_HALF_LIFE_DAYS)


def _marks_column(rules: Rules) -> tuple[str, list[Any]]:
    """The boosts a row `p` matches (rules.Rules.marks_sql), or NULL when there is none."""
    return rules.marks_sql() or ("NULL::bool[]", [])


def _newest(where: str, params: list[Any], exclude: list[int], count: int, rules: Rules) -> list[Scored]:
    marks, marks_params = _marks_column(rules)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT p.id, {marks} FROM catalog_product p WHERE {where} AND p.id <> ALL(%s) "
            f"ORDER BY p.created_at DESC, p.id DESC LIMIT %s",
            [*marks_params, *params, exclude, count],
        )
        return [
            Scored(product_id=pid, visual=None, semantic=None, marks=marks, found_by=["newest"])
            for pid, marks in cursor.fetchall()
        ]


def starter_set(
    *,
    encoder: ActiveEncoder | None,
    filters: ProductFilters,
    exclusions: Exclusions,
    offset: int,
    limit: int,
    rules: Rules | None = None,
) -> Ranking:
    """Round-robin over the clusters (biggest first), each cluster's best fresh match first.

    When filters leave too few representatives, the newest matching products
    fill the list, so `limit` come back whenever `limit` products match.
    Merchandising boosts add to each product's score within its cluster (and
    among the newest); pins are placed last (rules.py).
    """
    rules = rules or Rules()
    computed = starter_clusters(encoder) if encoder is not None else None
    clusters: list[Cluster] = []
    bonus: dict[int, float] = {}
    if computed is not None and encoder is not None:
        popular = popular_products(limit=POPULAR_CONSIDERED, category_id=filters.category_id, in_stock=filters.in_stock)
        bonus = _popularity_bonus(popular)
        assignable = _assignable_vectors(encoder, since=computed.computed_at, popular=[p.product_id for p in popular])
        clusters = computed.with_assigned(assignable)
    where, params = filter_sql(filters, exclusions)
    wanted = offset + limit + 1  # one more tells whether a next page exists
    candidate_ids = sorted({pid for cluster in clusters for pid, _ in cluster.members})
    pin_ids = [pin.product_id for pin in rules.pins]
    marks, marks_params = _marks_column(rules)
    with connection.cursor() as cursor:
        # The pinned products come along, cluster members or not, when they pass the filters.
        cursor.execute(
            f"SELECT p.id, p.created_at, {marks} FROM catalog_product p WHERE p.id = ANY(%s) AND {where}",
            [*marks_params, sorted({*candidate_ids, *pin_ids}), *params],
        )
        allowed = {pid: (created_at, row_marks) for pid, created_at, row_marks in cursor.fetchall()}
    now = timezone.now()
    # Each allowed product's boosts (rules.apply_boosts on a zero score: `combined` is the boost alone).
    boosted = {pid: Scored(product_id=pid, visual=None, semantic=None, marks=m) for pid, (_, m) in allowed.items()}
    apply_boosts(list(boosted.values()), rules)
    pinned, _ = split_pinned(list(boosted.values()), rules)
    queues = [
        sorted(
            (
                (sim + _freshness(allowed[pid][0], now) + bonus.get(pid, 0.0) + boosted[pid].boost, sim, pid)
                for pid, sim in cluster.members
                if pid in allowed and pid not in pinned
            ),
            key=lambda entry: (-entry[0], entry[2]),
        )
        for cluster in clusters
    ]
    chosen: list[Scored] = []
    seen: set[int] = set(pinned)
    while len(chosen) < wanted and any(queues):
        for queue in queues:
            while queue and queue[0][2] in seen:
                queue.pop(0)
            if queue and len(chosen) < wanted:
                score, sim, pid = queue.pop(0)
                item = boosted[pid]
                chosen.append(
                    Scored(
                        product_id=pid,
                        visual=sim,
                        semantic=None,
                        combined=score,
                        boost=item.boost,
                        rules=item.rules,
                        found_by=["cluster"],
                    )
                )
                seen.add(pid)
    filled = 0
    if len(chosen) < wanted - len(pinned):
        newest = _newest(where, params, sorted(seen), wanted - len(pinned) - len(chosen), rules)
        apply_boosts(newest, rules)
        chosen += newest
        filled = len(newest)
    chosen = place_pins(chosen[: max(wanted - len(pinned), 0)], pinned, rules)
    diagnostics: dict[str, Any] = {
        "strategy": "starter_clusters" if clusters else "newest",
        "reason": "no history: representatives of the catalogue's visual clusters, popular, fresh and in stock first",
        "clusters": len(clusters),
        "candidates_examined": len(candidate_ids) + filled,
        "encoders": {encoder.space: encoder.identity} if encoder else {},
    }
    if rules.boosts or rules.pins:
        diagnostics["rules"] = rules.names()
    if rules.pins:
        diagnostics["pins_unplaced"] = unplaced(rules, chosen)
    return Ranking(
        items=chosen[offset : offset + limit], has_more=len(chosen) > offset + limit, diagnostics=diagnostics
    )
