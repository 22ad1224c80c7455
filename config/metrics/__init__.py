"""Prometheus metrics (prometheus-client): what a shop's dashboard and alerts read.

- `web.py`: the families every web process records, per request (middleware.py) —
  requests and latency per route, ranked lists per endpoint and strategy, the
  process's database pool.
- `database.py`: what the database knows, read at scrape time — the embedding
  backlog, failed photos, the duplicate review queue, connections in use.
- `worker.py`: what only the worker knows — photos embedded and failed, seconds
  and photos per batch — served by the worker's main process on METRICS_WORKER_PORT.
- `views.py`: GET /metrics, behind METRICS_TOKEN or METRICS_ALLOWED_NETWORKS.

Several processes, one answer: gunicorn's workers and Celery's prefork children
are separate processes, so each writes its samples to PROMETHEUS_MULTIPROC_DIR
(prometheus-client's multiprocess mode) and a scrape adds up every process's
files; `manage.py serve` and the worker set that folder up, and gunicorn's
child_exit hook (config/gunicorn.py) retires a dead worker's gauges. One folder
per container or per process tree, never shared between two: files are named by pid.
"""
