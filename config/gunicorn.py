"""gunicorn's configuration hooks (`gunicorn -c python:config.gunicorn`), used by `manage.py serve`.

Workers, threads, bind and timeout come from the settings as command-line
arguments (config/management/commands/serve.py); this module holds what must run
inside gunicorn's own processes: the master empties the metrics folder once at
start, and retires the gauges of a worker that died, so a scrape adds up the
live workers' pools only (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import os
from typing import Any

from config.logs import logging_config

# The access line is Django's (config/logs.py: request id, route, recommendation id); gunicorn's would repeat it.
accesslog = None
_level = os.environ.get("LOG_LEVEL", "").strip() or "INFO"
logconfig_dict = {
    **logging_config(log_format=os.environ.get("LOG_FORMAT", "").strip() or "text", level=_level),
    # gunicorn's own loggers, to the same handler (its defaults would name formatters this dict replaces).
    "loggers": {
        "gunicorn.error": {"level": _level, "handlers": ["console"], "propagate": False},
        "gunicorn.access": {"handlers": [], "propagate": False},
    },
}
# gunicorn 24+: no control socket (it would go under $HOME, which a container's user may not have).
control_socket_disable = True
# The workers' heartbeat files in memory: on a container's overlay filesystem a write can stall past the timeout.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# Whether a request came over HTTPS is Django's call (SECURE_PROXY_SSL_HEADER), never a header gunicorn believes.
secure_scheme_headers: dict[str, str] = {}


def on_starting(server: Any) -> None:
    from pathlib import Path

    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        for file in Path(folder).glob("*.db"):
            file.unlink(missing_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
