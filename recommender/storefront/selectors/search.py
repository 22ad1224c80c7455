"""GET /search/ (words) and POST /search/image/ (a photo), ranked from query vectors the view computed.

The view embeds the words or the photo first (selectors.encoding), outside any
transaction, and hands the vectors in: a model never runs inside the request's
transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from django.conf import settings

from embeddings.models import Space
from embeddings.selectors import ActiveEncoder
from recommender.storefront.selectors.filters import Exclusions, ProductFilters
from recommender.storefront.selectors.knn import Branch, SpaceQuery
from recommender.storefront.selectors.ranking import Ranking, RankSpec, rank_page
from recommender.storefront.selectors.rules import Rules
from recommender.storefront.selectors.scoring import Weights, combine_lexical
from recommender.storefront.selectors.spaces import VectorQuery, vector_queries, vector_ranking

if TYPE_CHECKING:
    import numpy as np

# The exact expression of the GIN index product_search_gin (SearchVector("title",
# "description", "brand", config="english")): PostgreSQL uses an expression index
# only for a query repeating that expression.
SEARCH_DOCUMENT = (
    "to_tsvector('english'::regconfig, COALESCE(p.title, '') || ' ' || COALESCE(p.description, '') "
    "|| ' ' || COALESCE(p.brand, ''))"
)


# Word matches outrank semantic-only ones (issue 15): a product matching every word of the query
# gets a text score in [2, 3), one matching only some of them [1, 2): the level plus ts_rank_cd
# normalised into [0, 1) (flag 32: rank / (rank + 1)). scoring.combine_lexical makes the level
# the precedence of the rank-fusion score, so no semantic-only neighbour lands among them.
EVERY_WORD, SOME_WORDS = 2, 1
EVERY_WORD_QUERY = "websearch_to_tsquery('english', %s)"
# plainto_tsquery ANDs the quoted lexemes of the words ('red' & 'sneaker'); OR-ed, any one matches.
SOME_WORDS_QUERY = "(SELECT replace(plainto_tsquery('english', %s)::text, ' & ', ' | ')::tsquery)"
# websearch_to_tsquery's operators: a quoted phrase, "or", "-word". With any of them the query
# means exactly what it says, so only the every-word branch runs (no "some of the words" tier).
_OPERATORS = re.compile(r'"|(^|\s)-\S|\sor\s', re.IGNORECASE)


def _match_sql(query: str, where: str, level: int, *, unless: str | None = None) -> str:
    """Products whose document matches `query` (and not `unless`), scored level + ts_rank_cd, best first.

    ts_rank_cd needs the document, which the GIN index does not store, so ranking
    is bounded to the first SEARCH_TEXT_MATCHES matches (each costs a
    to_tsvector): a common word cannot make a query scan the catalogue.
    """
    excluded = f"AND NOT ({SEARCH_DOCUMENT} @@ {unless}) " if unless else ""
    return (
        f"SELECT m.id AS product_id, {level} + ts_rank_cd(m.document, m.query, 32) AS raw FROM ("
        f"SELECT p.id, {SEARCH_DOCUMENT} AS document, q.query "
        f"FROM catalog_product p, {query} AS q(query) "
        f"WHERE {SEARCH_DOCUMENT} @@ q.query {excluded}AND {where} LIMIT %s) m "
        f"ORDER BY raw DESC, product_id LIMIT %s"
    )


def full_text_branch(text: str, where: str, params: list[Any], k: int) -> list[Branch]:
    """Products whose title/description/brand match every word; then, a second branch, some of them."""
    limits = [settings.SEARCH_TEXT_MATCHES, k]
    every = _match_sql(EVERY_WORD_QUERY, where, EVERY_WORD)
    branches = [Branch(tag="text", sql=every, params=[text, *params, *limits])]
    if len(text.split()) > 1 and not _OPERATORS.search(text):
        some = _match_sql(SOME_WORDS_QUERY, where, SOME_WORDS, unless=EVERY_WORD_QUERY)
        branches.append(Branch(tag="text", sql=some, params=[text, text, *params, *limits]))
    return branches


@dataclass(frozen=True)
class TextSearch:
    q: str
    text_weight: float
    filters: ProductFilters
    offset: int
    limit: int
    rules: Rules = field(default_factory=Rules)  # merchandising: boosts and pins (rules.py)


def text_search(search: TextSearch, *, vector: np.ndarray, encoders: dict[str, ActiveEncoder]) -> Ranking:
    """`vector` is the words in the semantic space (encoding.text_query_vector), `encoders` the active ones."""
    query = SpaceQuery(encoder=encoders["semantic"], vector=vector)
    spec = RankSpec(
        spaces={"semantic": query},
        scoring={"semantic": query, "visual": None},
        filters=search.filters,
        exclusions=Exclusions(),
        weights=Weights(visual=0.0, semantic=1.0),
        extra=partial(full_text_branch, search.q) if search.text_weight > 0 else None,
        combine=partial(combine_lexical, text_weight=search.text_weight),
        rules=search.rules,
    )
    ranking = rank_page(spec, offset=search.offset, limit=search.limit)
    ranking.diagnostics["spaces_queried"] = ["semantic", *(["text"] if search.text_weight > 0 else [])]
    ranking.diagnostics["weights"] = {"semantic": 1 - search.text_weight, "text": search.text_weight}
    ranking.diagnostics["encoders"] = {"semantic": encoders["semantic"].identity}
    return ranking


def image_search(query: VectorQuery, *, vectors: dict[str, np.ndarray], encoders: dict[str, ActiveEncoder]) -> Ranking:
    """Products like the photo (`vectors`: encoding.image_query_vectors) in both spaces.

    No ceiling: the photo may well be of a listed product. A photo is compared with the products'
    photos only: in a space whose vectors blend in the products' words, with their photos' mean.
    """
    queries = {
        space: replace(q, photos_only=Space.blends_text(space))
        for space, q in vector_queries(vectors, encoders).items()
    }
    return vector_ranking(query, queries=queries)
