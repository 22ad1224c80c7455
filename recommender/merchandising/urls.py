"""The merchandiser pages under /staff/. Included by config/urls.py."""

from __future__ import annotations

from django.urls import path

from recommender.merchandising import views

app_name = "merchandising"

urlpatterns = [
    path("duplicates/", views.duplicates, name="duplicates"),
    path("matrix/", views.matrix, name="matrix"),
    path("map/", views.catalog_map, name="map"),
    path("map/build/", views.catalog_map_rebuild, name="map-build"),
    path("map/thumbnails/", views.catalog_map_thumbnails, name="map-thumbnails"),
    path("map/<str:space>/points.json", views.catalog_map_points, name="map-points"),
]
