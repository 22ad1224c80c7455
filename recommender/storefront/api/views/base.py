"""What every shopper endpoint shares: open to anonymous clients, throttled by who asks.

Each endpoint follows the same path: validate the parameters; compute the query
vectors (a model run, a URL fetch) outside any transaction; then one
transaction for the ranking and the recommendation log, so that the k-NN
session settings (SET LOCAL) and the log's insert share a single BEGIN/COMMIT
(round trips are what a request mostly pays on a busy box), and no transaction
is ever open while a model runs or a URL is fetched.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from config.errors import ErrorSerializer
from recommender.storefront.api.throttles import ShopperRateThrottle


class ShopperApi(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [ShopperRateThrottle]


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    described = {
        400: "A bad parameter; the message names it.",
        404: "Unknown product.",
        429: "Throttled; the Retry-After header says when to come back.",
        503: "The encoder this query needs cannot be loaded, or is still loading after a start (Retry-After).",
    }
    return {code: OpenApiResponse(ErrorSerializer, description=described[code]) for code in codes}


ATTRIBUTE_PARAMETER = OpenApiParameter(
    name="attr.color",
    type=str,
    location=OpenApiParameter.QUERY,
    required=False,
    description="Attribute equality; any attribute works the same way: attr.<name>=<value> (up to 8).",
)

RESULT_EXAMPLE: dict[str, Any] = {
    "recommendation_id": "0b6f0c1e-2f8e-4c1a-9d1f-5b0e7a1c9e42",
    "offset": 0,
    "limit": 2,
    "count": 2,
    "next_offset": 2,
    "results": [
        {
            "id": 1042,
            "sku": "DRS-1042",
            "title": "Red floral summer dress",
            "brand": "Sunny",
            "category": "dresses",
            "price": "49.90",
            "currency": "EUR",
            "in_stock": True,
            "thumbnail": "http://shop.example/media/thumbs/ab/ab12-480.jpg",
            "scores": {
                "visual": 0.91,
                "semantic": 0.87,
                "text": None,
                "combined": 0.94,
                "match": None,
                "boost": 0.05,
                "popularity": None,
                "rules": ["New arrivals"],
            },
        },
        {
            "id": 877,
            "sku": "DRS-0877",
            "title": "Poppy print midi dress",
            "brand": "Sunny",
            "category": "dresses",
            "price": "59.00",
            "currency": "EUR",
            "in_stock": True,
            "thumbnail": "http://shop.example/media/thumbs/cd/cd34-480.jpg",
            "scores": {
                "visual": 0.88,
                "semantic": 0.85,
                "text": None,
                "combined": 0.865,
                "match": None,
                "boost": 0.0,
                "popularity": None,
                "rules": [],
            },
        },
    ],
    "diagnostics": {
        "strategy": "hnsw_iterative",
        "reason": "medium filter (~8.0%)",
        "fallback": None,
        "ef_search": 200,
        "max_scan_tuples": 50000,
        "estimated_rows": 80000,
        "catalog_rows": 1000000,
        "candidates_examined": 120,
        "candidates_per_space": 60,
        "queries": 1,
        "windows": 1,
        "window_size": 60,
        "spaces_queried": ["semantic", "visual"],
        "weights": {"visual": 0.5, "semantic": 0.5},
        "rules": ["New arrivals"],
        "filters_applied": {"category": "dresses", "in_stock": True},
        "encoders": {"visual": "dinov2-base@7f3a9c", "semantic": "siglip-base-patch16-224@1b2c3d"},
        "elapsed_ms": 9.4,
    },
}


def ranked_example(name: str = "A page of results") -> OpenApiExample:
    return OpenApiExample(name, value=RESULT_EXAMPLE, response_only=True)
