"""GET /metrics: the Prometheus text format, every process of this web server's tree added up."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from config.client_ip import client_address
from config.metrics.access import scrape_allowed, scrape_configured
from config.metrics.database import DatabaseCollector
from config.metrics.registry import scrape_registry


def metrics(request: HttpRequest) -> HttpResponse:
    if not scrape_configured():
        return _refused(404, "not_found", "Metrics are off: set METRICS_TOKEN or METRICS_ALLOWED_NETWORKS.")
    if not scrape_allowed(address=client_address(request), authorization=request.headers.get("Authorization", "")):
        return _refused(
            403, "forbidden", "Send the METRICS_TOKEN as a bearer token, or scrape from an allowed network."
        )
    body = generate_latest(scrape_registry(extra=[DatabaseCollector()]))
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


def _refused(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "details": {}}}, status=status)
