"""Storefront pages (public): the catalog grid and the product page.

Rendered from the catalog models; everything "similar" (search, photo search,
more like this) is fetched by the page's JavaScript from the public API, the
same endpoints a storefront frontend would call.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from recommender.storefront.selectors import cards


def storefront(request: HttpRequest) -> HttpResponse:
    category = request.GET.get("category") or None
    page = cards.catalog_page(category_slug=category, page_number=request.GET.get("page"))
    categories = cards.categories_with_counts()
    current = next((row for row in categories if row["slug"] == category), None)
    context = {"page": page, "categories": categories, "category": current, "category_slug": category}
    return render(request, "pages/storefront.html", context)


def product(request: HttpRequest, product_id: int) -> HttpResponse:
    found = cards.product_for_page(product_id)
    if found is None or not found.is_active:
        raise Http404("No such product.")
    context = {"product": found, "photos": cards.product_photos(found)}
    return render(request, "pages/product.html", context)
