from __future__ import annotations

import time

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from config.api import validated
from config.parsers import BoundedJSONParser
from embeddings.selectors import ActiveEncoder
from recommender.storefront.api.params import RecommendationParams, merchandising_rules, product_filters
from recommender.storefront.api.responses import ranked_response
from recommender.storefront.api.serializers import RankedListSerializer
from recommender.storefront.api.views.base import RESULT_EXAMPLE, ShopperApi, error_responses
from recommender.storefront.selectors.encoding import text_query_vector
from recommender.storefront.selectors.ranking import Ranking
from recommender.storefront.selectors.recommend import ColdStart, recommendations
from recommender.storefront.selectors.spaces import serving_encoders_retry
from recommender.storefront.selectors.summaries import result_page
from recommender.storefront.services import recommendation_log_create

STARTER_EXAMPLE = {
    **RESULT_EXAMPLE,
    "diagnostics": {
        "strategy": "starter_clusters",
        "reason": "no history: representatives of the catalogue's visual clusters, fresh and in stock first",
        "clusters": 24,
        "candidates_examined": 720,
        "filters_applied": {"in_stock": True},
        "encoders": {"visual": "dinov2-base@7f3a9c"},
        "elapsed_ms": 6.1,
    },
}


class RecommendationsApi(ShopperApi):
    # JSON only: a form cannot carry the nested `filters` object, and silently dropping it would mislead.
    parser_classes = [BoundedJSONParser]

    @extend_schema(
        operation_id="recommendations",
        summary="Cold-start recommendations",
        description=(
            "From a short history (viewed, liked, disliked product ids) and/or words: the examples' vectors "
            "are averaged per space in SQL and combined (liked 1.0, viewed 0.5, disliked -0.5, words 1.0 in "
            "the semantic space), then ranked with MMR (diversity, default 0.3), optionally with a popularity "
            "prior (popularity_weight). The examples themselves and variants of disliked products are left "
            "out. With no history at all: a diverse starter set, the catalogue's main visual clusters, fresh "
            "and popular products first. Filters apply; in_stock defaults to true."
        ),
        request=RecommendationParams,
        responses={200: RankedListSerializer, **error_responses(400, 429, 503)},
        examples=[
            OpenApiExample(
                "A short session",
                value={"viewed": [12, 40], "liked": [40], "disliked": [7], "limit": 12, "filters": {"max_price": "80"}},
                request_only=True,
            ),
            OpenApiExample("No history: the starter set", value=STARTER_EXAMPLE, response_only=True),
            OpenApiExample("From a history", value=RESULT_EXAMPLE, response_only=True),
        ],
        tags=["storefront"],
    )
    def post(self, request: Request) -> Response:
        started = time.perf_counter()
        params = validated(RecommendationParams, request.data)
        raw_filters = request.data.get("filters") if isinstance(request.data, dict) else None
        filter_params = dict(params.get("filters") or {})
        # Shoppers are shown what they can buy, unless the storefront asks otherwise (null = either).
        filter_params.setdefault("in_stock", True)
        filters = product_filters(filter_params, raw_filters if isinstance(raw_filters, dict) else {})
        words = params.get("query") or None
        rules = merchandising_rules(params)

        def rank(encoders: dict[str, ActiveEncoder]) -> Ranking:
            cold_start = ColdStart(
                viewed=tuple(params["viewed"]),
                liked=tuple(params["liked"]),
                disliked=tuple(params["disliked"]),
                # The text tower runs outside any transaction: none is held while a model runs.
                query_vector=text_query_vector(words, encoders) if words else None,
                filters=filters,
                diversity=params["diversity"],
                offset=params["offset"],
                limit=params["limit"],
                rules=rules,
                popularity_weight=params["popularity_weight"],
            )
            return recommendations(cold_start, encoders=encoders)

        page = result_page(serving_encoders_retry(rank))
        recommendation_id = recommendation_log_create(
            endpoint="recommendations", params=params, product_ids=page.product_ids, strategy=page.strategy
        )
        return ranked_response(
            request, page=page, recommendation_id=recommendation_id, filters=filters, params=params, started=started
        )
