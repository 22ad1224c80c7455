"""Turning a Ranking into the one ranked-list response shape (and logging it)."""

from __future__ import annotations

import time
from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from recommender.api.serializers import RankedListSerializer
from recommender.selectors.filters import ProductFilters
from recommender.selectors.ranking import Ranking
from recommender.selectors.scoring import Scored
from recommender.selectors.summaries import ProductSummary, product_summaries
from recommender.services import recommendation_log_create


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)


def _result(request: Request, summary: ProductSummary, item: Scored) -> dict[str, Any]:
    return {
        "id": summary.id,
        "sku": summary.sku,
        "title": summary.title,
        "brand": summary.brand,
        "category": summary.category,
        "price": summary.price,
        "currency": summary.currency,
        "in_stock": summary.in_stock,
        "thumbnail": request.build_absolute_uri(summary.thumbnail) if summary.thumbnail else None,
        "scores": {
            "visual": _round(item.visual),
            "semantic": _round(item.semantic),
            "text": _round(item.text),
            "combined": _round(item.combined),
        },
    }


def ranked_response(
    request: Request,
    *,
    endpoint: str,
    ranking: Ranking,
    filters: ProductFilters,
    params: dict[str, Any],
    started: float,
    source_product_id: int | None = None,
) -> Response:
    offset, limit = params["offset"], params["limit"]
    summaries = product_summaries([item.product_id for item in ranking.items])
    # A product deleted between ranking and this read simply drops out.
    items = [item for item in ranking.items if item.product_id in summaries]
    diagnostics = {**ranking.diagnostics, "filters_applied": filters.applied()}
    diagnostics.setdefault("encoders", {})
    recommendation_id = recommendation_log_create(
        endpoint=endpoint,
        source_product_id=source_product_id,
        # The photo itself is never stored, not even in the log.
        params={key: str(value) for key, value in params.items() if key != "image"},
        product_ids=[item.product_id for item in items],
        strategy=str(diagnostics.get("strategy", "")),
    )
    diagnostics["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 2)
    payload = {
        "recommendation_id": recommendation_id,
        "offset": offset,
        "limit": limit,
        "count": len(items),
        "next_offset": offset + limit if ranking.has_more else None,
        "results": [_result(request, summaries[item.product_id], item) for item in items],
        "diagnostics": diagnostics,
    }
    return Response(RankedListSerializer(payload).data)
