"""GET /products/{id}/similar/: more like this product."""

from __future__ import annotations

from django.shortcuts import get_object_or_404

from catalog.models import Product
from recommender.storefront.selectors.filters import Exclusions
from recommender.storefront.selectors.ranking import Ranking
from recommender.storefront.selectors.spaces import VectorQuery, active_encoders_with_vectors, vector_ranking


def similar_products(*, product_id: int, query: VectorQuery) -> Ranking:
    """Products like `product_id`, never itself, its variants, or its re-listed copies (query.max_similarity).

    Raises Http404 for an unknown product. An inactive source still gets
    suggestions: a shopper on a delisted product page is shown alternatives.
    """
    source = get_object_or_404(Product.objects.only("id", "product_group"), pk=product_id)
    encoders, vectors = active_encoders_with_vectors(source.id)
    exclusions = Exclusions(
        product_ids=(source.id,),
        product_groups=(source.product_group,) if source.product_group else (),
    )
    return vector_ranking(query, vectors=vectors, encoders=encoders, exclusions=exclusions)
