"""The merchandiser pages under /staff/. Included by config/urls.py."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from recommender.merchandising import views

app_name = "merchandising"

urlpatterns = [
    # Merchandisers need not be staff, so they cannot use the admin's sign-in: this one is theirs.
    path("login/", auth_views.LoginView.as_view(template_name="pages/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("duplicates/", views.duplicates, name="duplicates"),
    path("matrix/", views.matrix, name="matrix"),
    path("map/", views.catalog_map, name="map"),
    path("map/build/", views.catalog_map_rebuild, name="map-build"),
    path("map/thumbnails/", views.catalog_map_thumbnails, name="map-thumbnails"),
    path("map/<str:space>/points.json", views.catalog_map_points, name="map-points"),
    path("report/", views.report, name="report"),
]
