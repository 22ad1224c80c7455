"""The storefront pages (HTML): the catalogue grid and the product page. Included by config/urls.py."""

from __future__ import annotations

from django.urls import path

from recommender.storefront import pages

app_name = "storefront"

urlpatterns = [
    path("", pages.storefront, name="storefront"),
    path("p/<id:product_id>/", pages.product, name="product"),
]
