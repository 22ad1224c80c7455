"""GET /products/{id}/similar/: more like this product."""

from __future__ import annotations

from dataclasses import dataclass

from django.shortcuts import get_object_or_404

from catalog.models import Product
from recommender.storefront.selectors.filters import Exclusions, ProductFilters
from recommender.storefront.selectors.ranking import Ranking
from recommender.storefront.selectors.scoring import Weights
from recommender.storefront.selectors.spaces import Mode, VectorRequest, active_encoders_with_vectors, vector_ranking


@dataclass(frozen=True)
class SimilarQuery:
    mode: Mode
    weights: Weights
    filters: ProductFilters
    max_similarity: float | None
    diversity: float
    offset: int
    limit: int


def similar_products(*, product_id: int, query: SimilarQuery) -> Ranking:
    """Products like `product_id`, never itself, its variants, or its re-listed copies.

    Raises Http404 for an unknown product. An inactive source still gets
    suggestions: a shopper on a delisted product page is shown alternatives.
    """
    source = get_object_or_404(Product.objects.only("id", "product_group"), pk=product_id)
    encoders, vectors = active_encoders_with_vectors(source.id)
    exclusions = Exclusions(
        product_ids=(source.id,),
        product_groups=(source.product_group,) if source.product_group else (),
    )
    ranking = vector_ranking(
        VectorRequest(
            vectors=vectors,
            encoders=encoders,
            mode=query.mode,
            weights=query.weights,
            filters=query.filters,
            exclusions=exclusions,
            diversity=query.diversity,
            max_similarity=query.max_similarity,
            offset=query.offset,
            limit=query.limit,
        )
    )
    ranking.diagnostics["encoders"] = {space: encoder.identity for space, encoder in encoders.items()}
    return ranking
