"""Counts and times every request; ranked lists also by the strategy that served them.

The families (prometheus_client) are imported when the first handler builds the middleware,
not when this module is imported: system checks import every middleware module, in workers
too, before a worker has set up its multiprocess folder (config/metrics/exposition.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.db import connections
from django.http import HttpRequest, HttpResponse

from config.logs import ranked_list_fields, route_name

if TYPE_CHECKING:
    from prometheus_client import Gauge

# Anything else (a client may send any token as the method) is counted as "other": labels stay bounded.
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


class MetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from config.metrics import web

        self.get_response = get_response
        self.web = web

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        endpoint = route_name(request)
        method = request.method if request.method in METHODS else "other"
        self.web.HTTP_REQUESTS.labels(endpoint, method, str(response.status_code)).inc()
        self.web.HTTP_DURATION.labels(endpoint, method).observe(elapsed)
        strategy = ranked_list_fields(response).get("strategy")
        if strategy:
            self.web.RANKINGS.labels(endpoint, strategy).inc()
            self.web.RANKING_DURATION.labels(endpoint, strategy).observe(elapsed)
        pool_usage_record(self.web.DB_POOL)
        return response


def pool_usage_record(gauge: Gauge) -> None:
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
    gauge.labels("size").set(size)
    gauge.labels("idle").set(idle)
    gauge.labels("in_use").set(size - idle)
    gauge.labels("waiting").set(stats.get("requests_waiting", 0))
