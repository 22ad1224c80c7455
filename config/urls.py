from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.health import healthz, readyz
from config.metrics.views import metrics

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("config.api_urls")),
    path("staff/", include("recommender.merchandising.urls")),
    path("", include("recommender.storefront.urls")),
]

if settings.SERVE_MEDIA and settings.MEDIA_STORAGE == "filesystem":
    # Development and the demo only; production serves MEDIA_ROOT from the web server or object storage
    # (with MEDIA_STORAGE=s3 the photos' URLs are the bucket's: nothing to serve here).
    # MEDIA_ROOT is read per request, so tests that override it (a private media dir) are served from it.
    urlpatterns += [
        re_path(r"^media/(?P<path>.*)$", lambda request, path: serve(request, path, str(settings.MEDIA_ROOT)))
    ]
