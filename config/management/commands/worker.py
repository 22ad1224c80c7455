"""Start a Celery worker after the one-line preflight in manage.py.

`celery -A config worker` works too; this command exists so that a bad
REDIS_URL or DATABASE_URL ends with one clear line (see config.preflight).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from config.celery import app
from config.queues import ALL_QUEUES


class Command(BaseCommand):
    help = "Run a Celery worker consuming the given queues (all by default), optionally with beat."

    def add_arguments(self, parser: CommandParser) -> None:
        queues = ", ".join(ALL_QUEUES)
        parser.add_argument("--queues", default=",".join(settings.WORKER_QUEUES), help=f"of {queues} (WORKER_QUEUES)")
        parser.add_argument("--concurrency", type=int, default=settings.CELERY_WORKER_CONCURRENCY)
        parser.add_argument("--beat", action="store_true", help="also run the periodic scheduler (one per site)")
        parser.add_argument("--loglevel", default="INFO")
        parser.add_argument("--hostname", default=None)
        parser.add_argument("--pool", default="prefork", choices=["prefork", "solo", "threads"])

    def handle(self, *args: Any, **options: Any) -> None:
        argv = [
            "worker",
            f"--queues={options['queues']}",
            f"--concurrency={options['concurrency']}",
            f"--loglevel={options['loglevel']}",
            f"--pool={options['pool']}",
            "--without-gossip",
            "--without-mingle",
        ]
        if options["beat"]:
            # Beat keeps its last-run times in a file; without its folder it dies at start, silently
            # leaving every periodic task (the pending-photo sweeper) undone.
            settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
            argv += ["--beat", f"--schedule={settings.VAR_DIR / 'celerybeat-schedule'}"]
        if options["hostname"]:
            argv.append(f"--hostname={options['hostname']}")
        app.worker_main(argv)
