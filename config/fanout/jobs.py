"""What a bulk job supplies to be fanned out (ShardedJob), the registry of jobs, and the per-process cache.

Every shard of a job searches its slice against the whole catalogue: `load`
reads the catalogue's vectors and builds the in-process index (embeddings.ann)
once per worker process and run; the process keeps it for that run's later
shards and frees it once every shard has begun (or the run finishes). A worker
process therefore holds one run's catalogue at a time: about 5.5 GB for a
million 1280-d photo vectors (float32 rows for exact re-scoring plus their
128-d projections), so size the `default` workers' memory for it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cache
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from config.fanout.models import FanOut

Loaded = TypeVar("Loaded")
Result = TypeVar("Result")

# Each kind's job, imported on first use: this app imports none of its clients.
JOBS = {
    "duplicates": "recommender.duplicates.scan_shards.DuplicateScanShards",
    "neighbours": "embeddings.neighbour_shards.NeighbourRebuildShards",
}


class ShardedJob(ABC, Generic[Loaded, Result]):
    """One kind of bulk job. `compute` runs outside any transaction; `store` and `finish` inside one."""

    @abstractmethod
    def load(self, fanout: FanOut) -> Loaded | None:
        """What every shard searches against (cached per process and run); None: the job is gone or over."""

    @abstractmethod
    def compute(self, fanout: FanOut, loaded: Loaded, low: int, high: int) -> Result:
        """The result of the keys in (low, high]."""

    @abstractmethod
    def store(self, fanout: FanOut, result: Result) -> None:
        """Write a shard's result; commits with the shard's done mark."""

    @abstractmethod
    def finish(self, fanout: FanOut) -> None:
        """Once every shard is done, exactly once per run (regroup, replay, clean up)."""


@cache
def job_for(kind: str) -> ShardedJob[Any, Any]:
    job: ShardedJob[Any, Any] = import_string(JOBS[kind])()
    return job


class _Loaded:
    """This process's one loaded run: (run key, what its job's `load` returned)."""

    key: tuple[int, str] | None = None
    value: Any = None


def loaded_for(fanout: FanOut, job: ShardedJob[Loaded, Any]) -> Loaded | None:
    # The creation time is part of the key: a test database flushed and refilled reuses no id, but a
    # restored one may, and a stale catalogue must never be searched for another run.
    key = (fanout.pk, fanout.created_at.isoformat())
    if _Loaded.key != key:
        forget_loaded()
        value = job.load(fanout)
        if value is None:
            return None
        _Loaded.key, _Loaded.value = key, value
    loaded: Loaded = _Loaded.value
    return loaded


def forget_loaded(fanout_id: int | None = None) -> None:
    """Free this process's loaded run (only if it is `fanout_id`'s, when given)."""
    if fanout_id is None or (_Loaded.key is not None and _Loaded.key[0] == fanout_id):
        _Loaded.key, _Loaded.value = None, None
