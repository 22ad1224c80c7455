"""The families only the worker records. Imported by config.metrics.worker.install(), never by web processes."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

PHOTOS_EMBEDDED = Counter("lookalike_photos_embedded", "Photos embedded and committed (rate() gives photos per second)")
PHOTOS_FAILED = Counter(
    "lookalike_photos_failed", "Photos a worker could not embed (undecodable, missing from storage)"
)
BATCH_DURATION = Histogram(
    "lookalike_embedding_batch_duration_seconds",
    "Seconds per embedding batch: claim, decode, encode in every space, write and commit",
    buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 600.0),
)
BATCH_PHOTOS = Histogram(
    "lookalike_embedding_batch_photos",
    "Photos claimed per embedding batch (EMBEDDING_CLAIM_BATCH_SIZE at most)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096),
)
TASKS = Counter("lookalike_worker_tasks", "Celery tasks finished, by task name and state", ["task", "state"])
