"""GET /products/{id}/similar/: more like this product."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import get_object_or_404

from catalog.models import Product
from embeddings.selectors import ActiveEncoder
from recommender.storefront.selectors.filters import Exclusions
from recommender.storefront.selectors.ranking import Ranking
from recommender.storefront.selectors.spaces import VectorQuery, stored_queries, vector_ranking


def similar_products(*, product_id: int, query: VectorQuery, encoders: dict[str, ActiveEncoder]) -> Ranking:
    """Products like `product_id`, never itself, its variants, or its re-listed copies.

    Re-listed copies are the products the duplicate detector paired with it
    (Exclusions.duplicates_of), those with its title and brand
    (Exclusions.same_listing_of, unless settings.SIMILAR_EXCLUDE_SAME_LISTING is off),
    and anything above the similarity ceiling (query.max_similarity), which
    catches a copy whose pair is not written yet.

    The product's stored vectors are the queries and its stored neighbour lists
    the first place candidates come from (knn.py), all read by the ranking
    statement itself. Raises Http404 for an unknown product. An inactive source
    still gets suggestions: a shopper on a delisted product page is shown alternatives.
    """
    if not encoders:
        # Nothing embedded yet, so no statement will look the product up: say 404 when it is unknown.
        get_object_or_404(Product.objects.only("id"), pk=product_id)
    exclusions = Exclusions(
        product_ids=(product_id,),
        variants_of=product_id,
        duplicates_of=product_id,
        # Store-wide rules keeping a category out of "more like this" of another: SQL, so `limit` still come back.
        category_rules=query.rules.similar_exclusions,
        category_rules_of=product_id,
        same_listing_of=product_id if settings.SIMILAR_EXCLUDE_SAME_LISTING else None,
    )
    return vector_ranking(
        query, queries=stored_queries(product_id, encoders), exclusions=exclusions, source_product_id=product_id
    )
