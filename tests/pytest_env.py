"""Loaded with `-p tests.pytest_env` before Django settings are read.

The suite runs against the real PostgreSQL + pgvector and the real Redis that
the environment names, or the embedded ones, started here as every other entry
point starts them (config.local_services) when DATABASE_URL / REDIS_URL are unset.
"""

from __future__ import annotations

import os

os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("SECRET_KEY", "test-secret-key")
os.environ.setdefault("EMBEDDINGS_PROFILE", "lite")
# Models are never fetched during tests: everything they load is local.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from urllib.parse import urlsplit, urlunsplit

from config.local_services import ensure_local_services

ensure_local_services()
# The cache in a Redis database of its own: tests clear it (throttle counters), which must not
# FLUSHDB the broker's queues and the worker's control bindings.
os.environ.setdefault("CACHE_URL", urlunsplit(urlsplit(os.environ["REDIS_URL"])._replace(path="/1")))
