"""The families web processes record. Labelled only: nothing is written before the first request.

Labels stay bounded: `endpoint` is the URL pattern's name (never the path, which holds ids),
`strategy` is the planner's choice (hnsw, hnsw_iterative, exact, ...).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUESTS = Counter(
    "lookalike_http_requests",
    "HTTP requests answered, by URL pattern, method and status",
    ["endpoint", "method", "status"],
)
HTTP_DURATION = Histogram(
    "lookalike_http_request_duration_seconds",
    "Seconds to answer an HTTP request, by URL pattern and method",
    ["endpoint", "method"],
    buckets=LATENCY_BUCKETS,
)
RANKINGS = Counter(
    "lookalike_rankings",
    "Ranked lists served (similar, search, search by photo, recommendations), by endpoint and ranking strategy",
    ["endpoint", "strategy"],
)
RANKING_DURATION = Histogram(
    "lookalike_ranking_duration_seconds",
    "Seconds to answer a ranked list, by endpoint and ranking strategy",
    ["endpoint", "strategy"],
    buckets=LATENCY_BUCKETS,
)
# livesum: the pools of the live web processes added up (a dead process's files are retired).
DB_POOL = Gauge(
    "lookalike_db_pool_connections",
    "Connections in the web processes' pools (DATABASE_POOL_SIZE): size, idle, in use, requests waiting",
    ["state"],
    multiprocess_mode="livesum",
)
