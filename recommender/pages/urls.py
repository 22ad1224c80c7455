from __future__ import annotations

from django.urls import path

from recommender.pages import staff_views, views

app_name = "pages"

urlpatterns = [
    path("", views.storefront, name="storefront"),
    path("p/<int:product_id>/", views.product, name="product"),
    path("staff/duplicates/", staff_views.duplicates, name="duplicates"),
    path("staff/matrix/", staff_views.matrix, name="matrix"),
    path("staff/map/", staff_views.catalog_map, name="map"),
    path("staff/map/build/", staff_views.catalog_map_rebuild, name="map-build"),
    path("staff/map/thumbnails/", staff_views.catalog_map_thumbnails, name="map-thumbnails"),
    path("staff/map/<str:space>/points.json", staff_views.catalog_map_points, name="map-points"),
]
