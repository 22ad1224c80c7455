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
DOCUMENT_TEXT = "COALESCE(p.title, '') || ' ' || COALESCE(p.description, '') || ' ' || COALESCE(p.brand, '')"
SEARCH_DOCUMENT = f"to_tsvector('english'::regconfig, {DOCUMENT_TEXT})"


# Word matches outrank semantic-only ones (issue 15): a product matching every word of the query
# gets a text score in [2, 3), one matching only some of them [1, 2): the level, + 0.5 when the
# words matched as whole words (below), + ts_rank_cd normalised into [0, 0.5) (flag 32: rank /
# (rank + 1)). scoring.combine_lexical makes the level and the half the precedence of the
# rank-fusion score, so no semantic-only neighbour lands among them.
EVERY_WORD, SOME_WORDS = 2, 1
EVERY_WORD_QUERY = "websearch_to_tsquery('english', {text})"
# plainto_tsquery ANDs the quoted lexemes of the words ('red' & 'sneaker'); OR-ed, any one matches.
SOME_WORDS_QUERY = "(SELECT replace(plainto_tsquery('english', {text})::text, ' & ', ' | ')::tsquery)"
# PostgreSQL's parser indexes a hyphenated compound with its parts ("T-shirt": t-shirt, t, shirt),
# so "shirt" matches every T-shirt. A match only through such a part ranks after a whole-word one
# (a shopper typing "shirt" means shirts, and "T-shirt" still finds T-shirts): the compound is
# joined ("Tshirt") in the document and in the words, and the match tried again. Only ranking
# uses it, over the matches already bounded below; a document without a hyphen needs no second
# look when the words have none either (both would be what just matched).
WHOLE_WORDS = 0.5
_JOIN_COMPOUNDS = "regexp_replace({text}, '(\\w)-(?=\\w)', '\\1', 'g')"
# websearch_to_tsquery's operators: a quoted phrase, "or", "-word". With any of them the query
# means exactly what it says, so only the every-word branch runs (no "some of the words" tier).
_OPERATORS = re.compile(r'"|(^|\s)-\S|\sor\s', re.IGNORECASE)


def _whole_words_sql(query: str, words_have_hyphen: bool) -> str:
    """1 when the words matched m.text as whole words (not only as parts of a hyphenated compound), else 0."""
    joined_words = query.format(text=_JOIN_COMPOUNDS.format(text="%s"))
    again = f"(to_tsvector('english'::regconfig, {_JOIN_COMPOUNDS.format(text='m.text')}) @@ {joined_words})::int"
    return again if words_have_hyphen else f"CASE WHEN strpos(m.text, '-') = 0 THEN 1 ELSE {again} END"


def _match_sql(query: str, where: str, level: int, *, words_have_hyphen: bool, unless: str | None = None) -> str:
    """Products whose document matches `query` (and not `unless`), scored as above, best first.

    ts_rank_cd needs the document, which the GIN index does not store, so ranking
    is bounded to the first SEARCH_TEXT_MATCHES matches (each costs a
    to_tsvector): a common word cannot make a query scan the catalogue.
    Parameters: the words (twice, `unless` once more), `where`'s, the two limits.
    """
    words = query.format(text="%s")
    excluded = f"AND NOT ({SEARCH_DOCUMENT} @@ {unless.format(text='%s')}) " if unless else ""
    whole = _whole_words_sql(query, words_have_hyphen)
    return (
        f"SELECT m.id AS product_id, {level} + {WHOLE_WORDS} * {whole} "
        f"+ {1 - WHOLE_WORDS} * ts_rank_cd(m.document, m.query, 32) AS raw FROM ("
        f"SELECT p.id, {DOCUMENT_TEXT} AS text, {SEARCH_DOCUMENT} AS document, q.query "
        f"FROM catalog_product p, {words} AS q(query) "
        f"WHERE {SEARCH_DOCUMENT} @@ q.query {excluded}AND {where} LIMIT %s) m "
        f"ORDER BY raw DESC, product_id LIMIT %s"
    )


def full_text_branch(text: str, where: str, params: list[Any], k: int) -> list[Branch]:
    """Products whose title/description/brand match every word; then, a second branch, some of them."""
    limits = [settings.SEARCH_TEXT_MATCHES, k]
    hyphen = "-" in text
    every = _match_sql(EVERY_WORD_QUERY, where, EVERY_WORD, words_have_hyphen=hyphen)
    branches = [Branch(tag="text", sql=every, params=[text, text, *params, *limits])]
    if len(text.split()) > 1 and not _OPERATORS.search(text):
        some = _match_sql(SOME_WORDS_QUERY, where, SOME_WORDS, words_have_hyphen=hyphen, unless=EVERY_WORD_QUERY)
        branches.append(Branch(tag="text", sql=some, params=[text, text, text, *params, *limits]))
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
