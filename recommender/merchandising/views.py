"""Merchandiser pages (staff or the 'merchandisers' group): duplicates, similarity matrix, catalog map, report."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from config.queues import TRANSIENT_ERRORS
from embeddings.models import Space
from recommender.feedback.selectors.popularity import popular_products
from recommender.feedback.selectors.report import recommendation_report, report_totals
from recommender.merchandising.permissions import merchandiser_required
from recommender.merchandising.selectors import MAX_MATRIX_PRODUCTS, catalog_map_current, similarity_matrix
from recommender.merchandising.tasks import BUILD_TIME_LIMIT, building_key, catalog_map_build_task
from recommender.storefront.selectors import cards

logger = logging.getLogger(__name__)

MATRIX_NUMBERS_UP_TO = 12  # larger matrices show their values on hover only (cells are too small for text)
MAX_MAP_THUMBNAILS = 400  # the map asks for pictures only once fewer points than this are on screen
REPORT_DAYS = (1, 7, 14, 30)  # the report page's choices of period
POPULAR_SHOWN = 12


@merchandiser_required
def duplicates(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/duplicates.html")


def _parse_ids(raw: str) -> list[int]:
    ids = []
    for part in raw.replace(" ", ",").split(","):
        if part.strip().isdigit():
            ids.append(int(part))
    return list(dict.fromkeys(ids))


@merchandiser_required
def matrix(request: HttpRequest) -> HttpResponse:
    category_slug = request.GET.get("category") or ""
    raw_ids = request.GET.get("ids", "")
    problem = ""
    categories = cards.categories_with_counts()
    if raw_ids:
        ids = _parse_ids(raw_ids)
        if len(ids) > MAX_MATRIX_PRODUCTS:
            problem = f"Showing the first {MAX_MATRIX_PRODUCTS} of the {len(ids)} products asked for."
            ids = ids[:MAX_MATRIX_PRODUCTS]
        source = request.GET.get("label") or "your selection"
    elif category_slug:
        ids = cards.category_product_ids(category_slug, limit=MAX_MATRIX_PRODUCTS)
        source = next((c["name"] for c in categories if c["slug"] == category_slug), category_slug)
    else:
        ids, source = [], ""
    found = {card.id: card for card in cards.cards_by_id(ids)}  # active products only
    matrices = []
    for space in Space.values:
        result = similarity_matrix(space=space, product_ids=list(found))
        row_cards = [found[pk] for pk in result.product_ids]
        rows, low, high = _heat_rows(result.values, row_cards)
        small = len(rows) <= MATRIX_NUMBERS_UP_TO
        matrices.append({"space": space, "result": result, "rows": rows, "low": low, "high": high, "small": small})
    context = {
        "matrices": matrices,
        "source": source,
        "asked": len(ids),
        "problem": problem,
        "categories": categories,
        "category_slug": category_slug,
        "ids": ",".join(map(str, ids)),
        "max_products": MAX_MATRIX_PRODUCTS,
    }
    return render(request, "pages/matrix.html", context)


def _heat_rows(values: list[list[float]], row_cards: list[cards.Card]) -> tuple[list[dict[str, object]], float, float]:
    """Rows of (card, cells) and the colour scale's ends.

    Each cell's colour is its similarity rescaled to the matrix's own range: cosine
    similarities of one encoder often sit in a narrow band (say 0.55 to 0.95), and
    rescaling to the off-diagonal min..max makes that band use the whole colour scale.
    """
    off_diagonal = [v for i, row in enumerate(values) for j, v in enumerate(row) if i != j]
    low, high = (min(off_diagonal), max(off_diagonal)) if off_diagonal else (0.0, 1.0)
    span = max(high - low, 1e-6)
    rows = []
    for i, card in enumerate(row_cards):
        # Formatted here, not with |floatformat: 2 x 2,500 cells of template filters cost ~0.7 s.
        cells = [
            {
                "value": f"{value:.3f}",
                "short": f"{value:.2f}",
                "t": f"{min(max((value - low) / span, 0.0), 1.0):.3f}",
                "other": row_cards[j].title,
            }
            for j, value in enumerate(values[i])
        ]
        rows.append({"card": card, "cells": cells})
    return rows, low, high


@merchandiser_required
def catalog_map(request: HttpRequest) -> HttpResponse:
    space = request.GET.get("space") or Space.VISUAL.value
    if space not in Space.values:
        raise Http404("Unknown space.")
    current = catalog_map_current(space)
    context = {
        "space": space,
        "spaces": Space.values,
        "header": current.header() if current else None,
        "building": bool(cache.get(building_key(space))),
    }
    return render(request, "pages/map.html", context)


@require_GET
@merchandiser_required
def catalog_map_points(request: HttpRequest, space: str) -> FileResponse:
    current = catalog_map_current(space) if space in Space.values else None
    if current is None:
        raise Http404("No catalog map has been built for this space yet.")
    # The file is stored gzip-compressed (70,000 points: ~0.5 MB instead of ~1.5 MB)
    # and sent as is: every browser accepts Content-Encoding: gzip.
    response = FileResponse(current.points.open("rb"), content_type="application/json")
    response["Content-Encoding"] = "gzip"
    response["Cache-Control"] = "private, max-age=60"
    return response


@require_GET
@merchandiser_required
def catalog_map_thumbnails(request: HttpRequest) -> JsonResponse:
    ids = _parse_ids(request.GET.get("ids", ""))[:MAX_MAP_THUMBNAILS]
    return JsonResponse({"products": {str(pk): row for pk, row in cards.map_thumbnails(ids).items()}})


@require_POST
@merchandiser_required
def catalog_map_rebuild(request: HttpRequest) -> HttpResponse:
    space = request.POST.get("space", "")
    if space not in Space.values:
        raise Http404("Unknown space.")
    # cache.add is atomic in Redis: of two clicks, only the first enqueues a build.
    if cache.add(building_key(space), True, timeout=BUILD_TIME_LIMIT):
        transaction.on_commit(lambda: _enqueue_map_build(space))
    return redirect(f"{reverse('merchandising:map')}?space={space}")


def _enqueue_map_build(space: str) -> None:
    try:
        catalog_map_build_task.delay(space)
    except TRANSIENT_ERRORS:
        # The broker is down: nothing will build, so the page must not say "building"; a later click retries.
        logger.exception("could not enqueue the catalog map build of %s", space)
        cache.delete(building_key(space))


@require_GET
@merchandiser_required
def report(request: HttpRequest) -> HttpResponse:
    """Lists served, clicks and CTR per day, endpoint, mode, strategy and encoder; the most popular products now."""
    retention = settings.RECOMMENDER_LOG_RETENTION_DAYS
    raw = request.GET.get("days", "7")
    # A bad or out-of-range period falls back to a week: a page, not an API, has no 400 to give.
    days = min(int(raw), retention) if raw.isdigit() and int(raw) >= 1 else 7
    until = timezone.now().date()
    rows = recommendation_report(since=until - timedelta(days=days - 1), until=until)
    popular = popular_products(limit=POPULAR_SHOWN)
    found = {card.id: card for card in cards.cards_by_id([item.product_id for item in popular])}
    context = {
        "rows": rows,
        "totals": report_totals(rows),
        "days": days,
        "choices": [choice for choice in REPORT_DAYS if choice <= retention],
        "since": until - timedelta(days=days - 1),
        "until": until,
        "popular": [(found[item.product_id], item.score) for item in popular if item.product_id in found],
        "half_life": settings.FEEDBACK_POPULARITY_HALF_LIFE_HOURS,
    }
    return render(request, "pages/report.html", context)
