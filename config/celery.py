"""The Celery app: Redis broker and results, JSON only, explicit time limits.

Values that an operator may change (the broker, concurrency, the beat schedule)
are CELERY_* settings in config/settings.py; what is fixed by design is here.
"""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue as KombuQueue

from config.queues import ALL_QUEUES, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("lookalike")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    task_default_queue=Queue.DEFAULT.value,
    task_queues=[KombuQueue(name) for name in ALL_QUEUES],
    # Routing by task name, so that a task sent by name (send_task: the post-embedding hooks)
    # lands where its decorator would put it: everything that runs a model is embeddings.tasks.*.
    task_routes={"embeddings.tasks.*": {"queue": Queue.EMBEDDINGS.value}},
    # Defaults are conservative; idempotent tasks opt into acks_late themselves.
    task_acks_late=False,
    task_time_limit=600,
    task_soft_time_limit=540,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    # A message not acked within this window is redelivered (acks_late tasks
    # whose worker died); longer than any task's time limit.
    broker_transport_options={"visibility_timeout": 3600},
)
# Each installed app's tasks module (recommender.storefront.tasks, recommender.duplicates.tasks, ...).
app.autodiscover_tasks()
