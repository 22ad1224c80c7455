"""The one ranked-list response shape, from a served page (the view has already logged it)."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from config.api import page_envelope
from recommender.storefront.api.serializers import DiagnosticsSerializer
from recommender.storefront.selectors.filters import ProductFilters
from recommender.storefront.selectors.scoring import Scored
from recommender.storefront.selectors.summaries import ProductSummary, ResultPage

# What RankedListSerializer declares (and so the OpenAPI document): the diagnostics keys a response carries.
DIAGNOSTIC_KEYS = tuple(DiagnosticsSerializer().fields)
CENTS = Decimal("0.01")


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)


def _result(request: Request, summary: ProductSummary, item: Scored) -> dict[str, Any]:
    return {
        "id": summary.id,
        "sku": summary.sku,
        "title": summary.title,
        "brand": summary.brand,
        "category": summary.category,
        "price": str(summary.price.quantize(CENTS)),
        "currency": summary.currency,
        "in_stock": summary.in_stock,
        "thumbnail": request.build_absolute_uri(summary.thumbnail) if summary.thumbnail else None,
        "scores": {
            "visual": _round(item.visual),
            "semantic": _round(item.semantic),
            "text": _round(item.text),
            "combined": _round(item.combined),
            "match": item.match,
            "boost": _round(item.boost),
            "popularity": _round(item.popularity),
            "rules": item.rules,
        },
    }


def ranked_response(
    request: Request,
    *,
    page: ResultPage,
    recommendation_id: uuid.UUID,
    filters: ProductFilters,
    params: dict[str, Any],
    started: float,
) -> Response:
    offset, limit = params["offset"], params["limit"]
    diagnostics = {**page.diagnostics, "filters_applied": filters.applied()}
    diagnostics.setdefault("encoders", {})
    diagnostics["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 2)
    # Built as RankedListSerializer would render it, without running it: on every storefront
    # response its per-field machinery cost more than the ranking statement (tests hold the
    # output to the serializer, and the contract test to the OpenAPI document made from it).
    payload = {
        "recommendation_id": str(recommendation_id),
        **page_envelope(offset=offset, limit=limit, has_more=page.has_more),
        "count": len(page.results),
        "results": [_result(request, summary, item) for item, summary in page.results],
        "diagnostics": {key: diagnostics[key] for key in DIAGNOSTIC_KEYS if key in diagnostics},
    }
    return Response(payload)
