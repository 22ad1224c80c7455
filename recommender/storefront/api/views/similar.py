from __future__ import annotations

import time

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from config.api import validated
from recommender.storefront.api.params import SimilarParams, merchandising_rules, product_filters
from recommender.storefront.api.responses import ranked_response
from recommender.storefront.api.serializers import RankedListSerializer
from recommender.storefront.api.views.base import ATTRIBUTE_PARAMETER, ShopperApi, error_responses, ranked_example
from recommender.storefront.selectors.similar import similar_products
from recommender.storefront.selectors.spaces import Mode, VectorQuery, mode_weights, serving_encoders_retry
from recommender.storefront.selectors.summaries import result_page
from recommender.storefront.services import recommendation_log_create


class SimilarProductsApi(ShopperApi):
    @extend_schema(
        operation_id="products_similar",
        summary="More like this product",
        description=(
            "Products similar to this one in the visual space, the semantic space or both (hybrid, "
            "weighted). Never the product itself, its variants (same product_group) or its re-listed "
            "copies (every product the duplicate detector paired with it, and anything visually above "
            "max_similarity); diagnostics.excluded names the rules. When at least `limit` active products match "
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
        query = VectorQuery(
            mode=mode,
            weights=mode_weights(mode, params["visual_weight"], params["semantic_weight"]),
            filters=filters,
            max_similarity=params["max_similarity"],
            diversity=params["diversity"],
            offset=params["offset"],
            limit=params["limit"],
            rules=merchandising_rules(params),
        )
        ranking = serving_encoders_retry(
            lambda encoders: similar_products(product_id=product_id, query=query, encoders=encoders)
        )
        page = result_page(ranking)
        recommendation_id = recommendation_log_create(
            endpoint="similar",
            source_product_id=product_id,
            params=params,
            product_ids=page.product_ids,
            strategy=page.strategy,
        )
        return ranked_response(
            request, page=page, recommendation_id=recommendation_id, filters=filters, params=params, started=started
        )
