"""GET /metrics: the Prometheus text format, every process of this web server's tree added up.

prometheus_client is imported on the first scrape, not with the URLconf: a worker's
system checks load the URLconf before the worker sets up its multiprocess folder,
which must come first (config/metrics/exposition.py).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from config.client_ip import client_address
from config.metrics.access import scrape_allowed, scrape_configured


def metrics(request: HttpRequest) -> HttpResponse:
    if not scrape_configured():
        return _refused(404, "not_found", "Metrics are off: set METRICS_TOKEN or METRICS_ALLOWED_NETWORKS.")
    if not scrape_allowed(address=client_address(request), authorization=request.headers.get("Authorization", "")):
        return _refused(
            403, "forbidden", "Send the METRICS_TOKEN as a bearer token, or scrape from an allowed network."
        )
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from config.metrics.database import DatabaseCollector
    from config.metrics.registry import scrape_registry

    body = generate_latest(scrape_registry(extra=[DatabaseCollector()]))
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


def _refused(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "details": {}}}, status=status)
