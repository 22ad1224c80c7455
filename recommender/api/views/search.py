from __future__ import annotations

import time

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from recommender.api.params import SearchParams, product_filters, validated
from recommender.api.responses import ranked_response
from recommender.api.serializers import RankedListSerializer
from recommender.api.views.base import ATTRIBUTE_PARAMETER, RESULT_EXAMPLE, ShopperView, error_responses
from recommender.selectors.search import TextSearch, text_search

SEARCH_EXAMPLE = {
    **RESULT_EXAMPLE,
    "results": [
        {**result, "scores": {"visual": None, "semantic": 0.31, "text": 0.1, "combined": 0.0164}}
        for result in RESULT_EXAMPLE["results"]
    ],
    "diagnostics": {
        **RESULT_EXAMPLE["diagnostics"],
        "strategy": "hnsw",
        "reason": "no filters",
        "spaces_queried": ["semantic", "text"],
        "weights": {"semantic": 0.5, "text": 0.5},
        "filters_applied": {},
        "encoders": {"semantic": "siglip-base-patch16-224@1b2c3d"},
    },
}


class SearchView(ShopperView):
    @extend_schema(
        operation_id="search_text",
        summary="Search products by words",
        description=(
            "The words are embedded by the semantic space's text tower and matched against product vectors; "
            "PostgreSQL full-text matches on title, description and brand are blended in by reciprocal rank "
            "fusion (text_weight). Same filters and pagination as /similar/."
        ),
        parameters=[SearchParams, ATTRIBUTE_PARAMETER],
        responses={200: RankedListSerializer, **error_responses(400, 429, 503)},
        examples=[OpenApiExample("red floral summer dress", value=SEARCH_EXAMPLE, response_only=True)],
        tags=["storefront"],
    )
    def get(self, request: Request) -> Response:
        started = time.perf_counter()
        params = validated(SearchParams, request.query_params)
        filters = product_filters(params, request.query_params)
        ranking = text_search(
            TextSearch(
                q=params["q"],
                text_weight=params["text_weight"],
                filters=filters,
                offset=params["offset"],
                limit=params["limit"],
            )
        )
        return ranked_response(
            request,
            endpoint="search",
            ranking=ranking,
            filters=filters,
            params=params,
            started=started,
        )
