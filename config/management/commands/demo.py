"""`make demo`: everything a newcomer needs, in one process tree.

Migrates, creates a demo admin, starts a Celery worker (with beat) and the web
server, loads the demo catalog, and on Ctrl-C stops all of it — including the
embedded PostgreSQL and Valkey when this checkout runs its own.

The web server is production's: `manage.py serve` (gunicorn, whitenoise for the
static files), so what a newcomer tries is what the containers run.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from config.local_services import stop_local_services

DEMO_ADMIN = "admin"


class Command(BaseCommand):
    help = "Run the demo: database, worker, web server and a demo catalog at http://127.0.0.1:8000"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=settings.DEMO_CATALOG_LIMIT)
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, **options: Any) -> None:
        env = {**os.environ, "EMBEDDINGS_PROFILE": self.choose_profile(), "DEBUG": os.environ.get("DEBUG", "1")}
        call_command("migrate", interactive=False, verbosity=0)
        password = self.ensure_admin()
        children = [
            subprocess.Popen([sys.executable, "manage.py", "worker", "--beat", "--loglevel=WARNING"], env=env),
            subprocess.Popen([sys.executable, "manage.py", "serve", f"--bind=127.0.0.1:{options['port']}"], env=env),
        ]
        self.stdout.write(
            self.style.SUCCESS(f"Lookalike: http://127.0.0.1:{options['port']}/  admin: /admin/ ")
            + f"user {DEMO_ADMIN!r} password {password!r}  (Ctrl-C stops everything)"
        )
        try:
            subprocess.run(
                [sys.executable, "manage.py", "load_demo_catalog", f"--limit={options['limit']}"], env=env, check=False
            )
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop(children)

    def choose_profile(self) -> str:
        requested = os.environ.get("EMBEDDINGS_PROFILE")
        if requested:
            return requested
        from embeddings.encoders import PROFILES, weights_available

        missing = [name for name in PROFILES["full"].values() if not weights_available(name)]
        if missing:
            self.stdout.write(
                f"Full profile weights ({', '.join(missing)}) not found locally or on the hub: "
                "running the 'lite' profile."
            )
            return "lite"
        return "full"

    def ensure_admin(self) -> str:
        password = settings.DEMO_ADMIN_PASSWORD or secrets.token_urlsafe(9)
        user_model = get_user_model()
        user, _ = user_model.objects.get_or_create(username=DEMO_ADMIN, defaults={"email": "admin@example.com"})
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        return password

    def stop(self, children: list[subprocess.Popen[bytes]]) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        # Only the embedded servers manage.py started for this demo (LOOKALIKE_EMBEDDED), never a server of yours.
        stopped = stop_local_services(list(settings.EMBEDDED_SERVICES))
        self.stdout.write(f"Stopped{' (and the embedded ' + ', '.join(stopped) + ')' if stopped else ''}.")
