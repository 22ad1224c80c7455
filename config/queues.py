"""Celery queue names, in one place.

- EMBEDDINGS: model work (decoding photos, running DINOv2/SigLIP). Consumed by
  workers started with `-Q embeddings`; give them the GPU / most cores.
- DEFAULT: everything light (sweepers, duplicate checks, bookkeeping).
`make demo` and the tests start one worker consuming both.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypedDict

import botocore.exceptions
import kombu.exceptions
import redis.exceptions
from django.db import InterfaceError, OperationalError


class Queue(StrEnum):
    EMBEDDINGS = "embeddings"
    DEFAULT = "default"


ALL_QUEUES = (Queue.EMBEDDINGS.value, Queue.DEFAULT.value)

# Failures that say nothing about the task's own input (the database, the broker or the photos' bucket blinked):
# every task that retries retries on these, with backoff. Not the built-in ConnectionError,
# which none of psycopg's, Django's or redis-py's errors derive from.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    kombu.exceptions.OperationalError,
    # Object storage (MEDIA_STORAGE=s3) unreachable or slow: EndpointConnectionError, ConnectTimeoutError, ...
    botocore.exceptions.ConnectionError,
    botocore.exceptions.ReadTimeoutError,
)


# The options of every task that is safe to run twice (it re-fetches by id and writes by state):
# acknowledged only when done, so a message whose worker died is redelivered rather than lost,
# and retried with backoff on TRANSIENT_ERRORS. Each task adds its own limits and retry count.
class _RetryOptions(TypedDict):
    acks_late: bool
    reject_on_worker_lost: bool
    autoretry_for: tuple[type[Exception], ...]
    retry_backoff: bool


REDELIVERED_AND_RETRIED = _RetryOptions(
    acks_late=True, reject_on_worker_lost=True, autoretry_for=TRANSIENT_ERRORS, retry_backoff=True
)
