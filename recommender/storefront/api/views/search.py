from __future__ import annotations

import time

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from config.api import validated
from embeddings.selectors import ActiveEncoder
from recommender.storefront.api.params import SearchParams, merchandising_rules, product_filters
from recommender.storefront.api.responses import ranked_response
from recommender.storefront.api.serializers import RankedListSerializer
from recommender.storefront.api.views.base import ATTRIBUTE_PARAMETER, RESULT_EXAMPLE, ShopperApi, error_responses
from recommender.storefront.selectors.encoding import text_query_vector
from recommender.storefront.selectors.ranking import Ranking
from recommender.storefront.selectors.search import TextSearch, text_search
from recommender.storefront.selectors.spaces import serving_encoders_retry
from recommender.storefront.selectors.summaries import result_page
from recommender.storefront.services import recommendation_log_create

SEARCH_EXAMPLE = {
    **RESULT_EXAMPLE,
    "results": [
        {
            **result,
            "scores": {
                "visual": None,
                "semantic": 0.31,
                "text": 2.09,
                "combined": 2.0164,
                "match": "every_word",
                "boost": 0.0,
                "popularity": None,
                "rules": [],
            },
        }
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


class SearchApi(ShopperApi):
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
        search = TextSearch(
            q=params["q"],
            text_weight=params["text_weight"],
            filters=filters,
            offset=params["offset"],
            limit=params["limit"],
            rules=merchandising_rules(params),
        )

        def rank(encoders: dict[str, ActiveEncoder]) -> Ranking:
            # The text tower runs outside any transaction: none is held while a model runs.
            return text_search(search, vector=text_query_vector(params["q"], encoders), encoders=encoders)

        page = result_page(serving_encoders_retry(rank))
        recommendation_id = recommendation_log_create(
            endpoint="search", params=params, product_ids=page.product_ids, strategy=page.strategy
        )
        return ranked_response(
            request, page=page, recommendation_id=recommendation_id, filters=filters, params=params, started=started
        )
