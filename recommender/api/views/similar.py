from __future__ import annotations

import time

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from recommender.api.params import SimilarParams, product_filters, validated
from recommender.api.responses import ranked_response
from recommender.api.serializers import RankedListSerializer
from recommender.api.views.base import ATTRIBUTE_PARAMETER, ShopperView, error_responses, ranked_example
from recommender.selectors.similar import SimilarQuery, similar_products
from recommender.selectors.spaces import Mode, mode_weights


class SimilarProductsView(ShopperView):
    @extend_schema(
        operation_id="products_similar",
        summary="More like this product",
        description=(
            "Products similar to this one in the visual space, the semantic space or both (hybrid, "
            "weighted). Never the product itself, its variants (same product_group) or its re-listed "
            "copies (visual similarity above max_similarity). When at least `limit` active products match "
            "the filters, exactly `limit` come back."
        ),
        parameters=[SimilarParams, ATTRIBUTE_PARAMETER],
        responses={200: RankedListSerializer, **error_responses(400, 404, 429)},
        examples=[ranked_example()],
        tags=["storefront"],
    )
    def get(self, request: Request, product_id: int) -> Response:
        started = time.perf_counter()
        params = validated(SimilarParams, request.query_params)
        filters = product_filters(params, request.query_params)
        mode = Mode(params["mode"])
        ranking = similar_products(
            product_id=product_id,
            query=SimilarQuery(
                mode=mode,
                weights=mode_weights(mode, params["visual_weight"], params["semantic_weight"]),
                filters=filters,
                max_similarity=params["max_similarity"],
                diversity=params["diversity"],
                offset=params["offset"],
                limit=params["limit"],
            ),
        )
        return ranked_response(
            request,
            endpoint="similar",
            ranking=ranking,
            filters=filters,
            params=params,
            started=started,
            source_product_id=product_id,
        )
