"""`manage.py serve`: the web server of production and of `make demo` (gunicorn), after manage.py's preflight.

Through manage.py, a missing SECRET_KEY, a wrong DATABASE_URL or an unreachable
Redis ends the web container with manage.py's one line (config/preflight.py)
instead of gunicorn's "Worker failed to boot" traceback. Then this process
becomes gunicorn (exec: same pid, signals go straight to it), with workers,
threads, bind and timeout from the settings, and prometheus-client's
multiprocess folder set up so /metrics adds up every worker.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from config.metrics.exposition import multiprocess_dir_prepare


class Command(BaseCommand):
    help = "Serve the site with gunicorn (WEB_BIND, WEB_WORKERS, WEB_THREADS, WEB_TIMEOUT)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default=settings.WEB_BIND)
        parser.add_argument("--workers", type=int, default=settings.WEB_WORKERS)
        parser.add_argument("--threads", type=int, default=settings.WEB_THREADS)

    def handle(self, *args: Any, **options: Any) -> None:
        gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or shutil.which("gunicorn")
        if gunicorn is None:
            raise CommandError("gunicorn is not installed (pip install gunicorn)")
        multiprocess_dir_prepare(name=f"web-{options['bind']}", for_exec=True)
        argv = [
            gunicorn,
            "--config=python:config.gunicorn",
            f"--bind={options['bind']}",
            f"--workers={options['workers']}",
            f"--threads={options['threads']}",
            f"--worker-class={'gthread' if options['threads'] > 1 else 'sync'}",
            f"--timeout={settings.WEB_TIMEOUT}",
            "--graceful-timeout=30",
            "config.wsgi:application",
        ]
        connections.close_all()  # preflight's connection: not to be inherited by gunicorn
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(gunicorn, argv)
