"""Counts and times every request; ranked lists also by the strategy that served them."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.db import connections
from django.http import HttpRequest, HttpResponse

from config.logs import ranked_list_fields, route_name
from config.metrics.web import DB_POOL, HTTP_DURATION, HTTP_REQUESTS, RANKING_DURATION, RANKINGS

# Anything else (a client may send any token as the method) is counted as "other": labels stay bounded.
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


class MetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        endpoint = route_name(request)
        method = request.method if request.method in METHODS else "other"
        HTTP_REQUESTS.labels(endpoint, method, str(response.status_code)).inc()
        HTTP_DURATION.labels(endpoint, method).observe(elapsed)
        strategy = ranked_list_fields(response).get("strategy")
        if strategy:
            RANKINGS.labels(endpoint, strategy).inc()
            RANKING_DURATION.labels(endpoint, strategy).observe(elapsed)
        pool_usage_record()
        return response


def pool_usage_record() -> None:
    """This process's pool, as it stands at the end of a request (that request's connection still counted in use).

    Recorded per request rather than at scrape time because the scrape is answered by
    one process of many: each keeps its own gauge file up to date, the scrape adds them up.
    """
    wrapper = connections["default"]
    if not wrapper.settings_dict["OPTIONS"].get("pool"):
        return
    pool = getattr(wrapper, "pool", None)
    if pool is None:
        return
    stats = pool.get_stats()
    size, idle = stats.get("pool_size", 0), stats.get("pool_available", 0)
    DB_POOL.labels("size").set(size)
    DB_POOL.labels("idle").set(idle)
    DB_POOL.labels("in_use").set(size - idle)
    DB_POOL.labels("waiting").set(stats.get("requests_waiting", 0))
