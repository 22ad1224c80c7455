"""Celery queue names, in one place.

- EMBEDDINGS: model work (decoding photos, running DINOv2/SigLIP). Consumed by
  workers started with `-Q embeddings`; give them the GPU / most cores.
- DEFAULT: everything light (sweepers, duplicate checks, bookkeeping).
`make demo` and the tests start one worker consuming both.
"""

from __future__ import annotations

from enum import StrEnum


class Queue(StrEnum):
    EMBEDDINGS = "embeddings"
    DEFAULT = "default"


ALL_QUEUES = (Queue.EMBEDDINGS.value, Queue.DEFAULT.value)
