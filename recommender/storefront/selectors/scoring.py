"""Turning scored candidates into an order: weighted or rank-fused scores, a ceiling, MMR."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from recommender.storefront.selectors.knn import CandidateRow

RRF_K = 60  # the usual reciprocal-rank-fusion constant: damps the head of each list


@dataclass(frozen=True)
class Weights:
    visual: float
    semantic: float

    @property
    def total(self) -> float:
        return self.visual + self.semantic


@dataclass
class Scored:
    product_id: int
    visual: float | None
    semantic: float | None
    text: float | None = None
    combined: float = 0.0
    match: str | None = None  # text search only: the rule that placed it (combine_lexical)
    boost: float = 0.0  # what merchandising boosts added to combined (rules.apply_boosts)
    rules: list[str] = field(default_factory=list)  # the boosts (and "pin") that touched it
    marks: Sequence[bool] | None = None  # which of the ranking's boosts match it (knn.CandidateRow.marks)
    popularity_score: float | None = None  # its popularity now, when the ranking has a prior (prior.py)
    popularity: float | None = None  # what the popularity prior added to combined; None when it is off
    found_by: list[str] = field(default_factory=list)
    visual_vector: np.ndarray | None = None
    semantic_vector: np.ndarray | None = None


def merge(rows: Sequence[CandidateRow]) -> list[Scored]:
    """One Scored per product, whichever branches found it (a product may come from several)."""
    by_id: dict[int, Scored] = {}
    for row in rows:
        scored = by_id.get(row.product_id)
        if scored is None:
            scored = by_id[row.product_id] = Scored(
                product_id=row.product_id,
                visual=row.visual,
                semantic=row.semantic,
                visual_vector=row.visual_vector,
                semantic_vector=row.semantic_vector,
                marks=row.marks,
                popularity_score=row.popularity_score,
            )
        if row.tag == "text":
            scored.text = float(row.raw)
        scored.found_by.append(row.tag)
    return list(by_id.values())


def combine_weighted(items: list[Scored], weights: Weights) -> None:
    """combined = weighted mean of the two cosine similarities; a missing vector counts as 0."""
    for item in items:
        item.combined = (
            weights.visual * (item.visual or 0.0) + weights.semantic * (item.semantic or 0.0)
        ) / weights.total


def combine_rrf(items: list[Scored], text_weight: float) -> None:
    """Reciprocal rank fusion of the semantic ranking and the full-text ranking.

    Ranks, not raw scores, are fused: cosine similarities and ts_rank live on
    unrelated scales, and ranks make the blend independent of both.
    """
    by_vector = sorted((i for i in items if i.semantic is not None), key=lambda i: (-(i.semantic or 0.0), i.product_id))
    by_text = sorted((i for i in items if i.text is not None), key=lambda i: (-(i.text or 0.0), i.product_id))
    vector_rank = {item.product_id: rank for rank, item in enumerate(by_vector, start=1)}
    text_rank = {item.product_id: rank for rank, item in enumerate(by_text, start=1)}
    for item in items:
        score = 0.0
        if item.product_id in vector_rank:
            score += (1 - text_weight) / (RRF_K + vector_rank[item.product_id])
        if item.product_id in text_rank:
            score += text_weight / (RRF_K + text_rank[item.product_id])
        item.combined = score


# What combine_lexical says placed a result, by the tier of its text score (search.py: the level,
# EVERY_WORD 2 or SOME_WORDS 1, + WHOLE_WORDS 0.5 when the words matched as whole words).
MATCH_RULES = {
    2.5: "every_word",
    2.0: "every_word_in_compound",
    1.5: "some_words",
    1.0: "some_words_in_compound",
    0.0: "semantic",
}


def match_tier(text: float | None) -> float:
    """The precedence a text score gives: its level and whole-word half (the rank part is below 0.5)."""
    return math.floor(text * 2) / 2 if text is not None else 0.0


def combine_lexical(items: list[Scored], text_weight: float) -> None:
    """Text search: word matches first, then semantic-only ones; rank fusion orders within each.

    combined = the match tier (2.5: every word of the query matched the title,
    description or brand as whole words; 2: every word, some only as a part of a
    hyphenated compound, "shirt" in "T-shirt"; 1.5 and 1: some of the words,
    likewise; 0: found by the semantic space alone) + the reciprocal rank fusion
    of the two rankings (always below 0.5), so a shopper typing "dress" sees the
    dresses before the coats the semantic space thinks are close, and "shirt"
    the shirts before the T-shirts; the semantic space still decides within a
    tier and fills the list after them. When no word matches, it is the fusion alone.
    """
    combine_rrf(items, text_weight)
    for item in items:
        tier = match_tier(item.text)
        item.match = MATCH_RULES[tier]
        item.combined += tier


def by_score(items: list[Scored]) -> list[Scored]:
    # The id breaks ties so equal scores never swap places between two pages.
    return sorted(items, key=lambda i: (-i.combined, i.product_id))


def _matrix(items: list[Scored], attribute: str) -> np.ndarray | None:
    vectors = [getattr(item, attribute) for item in items]
    dim = next((len(v) for v in vectors if v is not None), None)
    if dim is None:
        return None
    return np.stack([v if v is not None else np.zeros(dim, dtype=np.float32) for v in vectors])


def mmr(items: list[Scored], *, count: int, diversity: float, weights: Weights) -> list[Scored]:
    """Maximal marginal relevance: trade relevance for dissimilarity to what is already chosen.

    `items` come sorted by relevance; relevance is divided by the best score so
    that `diversity` means the same for cosine scores and for rank-fusion scores.
    """
    if diversity <= 0 or len(items) <= 1:
        return items[:count]
    spaces = [
        (matrix, weight / weights.total)
        for attribute, weight in (("visual_vector", weights.visual), ("semantic_vector", weights.semantic))
        if weight > 0 and (matrix := _matrix(items, attribute)) is not None
    ]

    def similarity_to(index: int) -> np.ndarray:
        # One row of the similarity matrix at a time: count rows, not n^2.
        row = np.zeros(len(items), dtype=np.float32)
        for matrix, share in spaces:
            row += share * (matrix @ matrix[index])
        return row

    relevance = np.array([item.combined for item in items], dtype=np.float32)
    top = float(relevance.max())
    relevance = relevance / top if top > 0 else np.ones_like(relevance)
    chosen = [0]
    closest = similarity_to(0)
    available = np.ones(len(items), dtype=bool)
    available[0] = False
    while len(chosen) < min(count, len(items)):
        gain = (1 - diversity) * relevance - diversity * closest
        gain[~available] = -np.inf
        pick = int(np.argmax(gain))
        chosen.append(pick)
        available[pick] = False
        closest = np.maximum(closest, similarity_to(pick))
    return [items[index] for index in chosen]
