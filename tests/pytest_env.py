"""Loaded with `-p tests.pytest_env` before Django settings are read.

The suite runs against the real PostgreSQL + pgvector and the real Redis that
settings resolve (embedded ones when DATABASE_URL / REDIS_URL are unset).
"""

from __future__ import annotations

import os

os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("SECRET_KEY", "test-secret-key")
os.environ.setdefault("EMBEDDINGS_PROFILE", "lite")
# Models are never fetched during tests: everything they load is local.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
