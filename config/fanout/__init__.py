"""Bulk jobs fanned out over Celery: a key range split into shards, each a task, finished once (see services)."""
