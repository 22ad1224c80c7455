"""One fanned-out run of a bulk job, and its shards: contiguous ranges of the job's keys, each done once."""

from __future__ import annotations

from django.db import models


class FanOut(models.Model):
    """A bulk job (its `kind` names the ShardedJob, `job_id` its own progress row) split into shards."""

    kind = models.CharField(max_length=32)
    job_id = models.BigIntegerField()
    # What every shard must compute with, fixed when the run starts (thresholds, k, the encoder),
    # so workers whose settings differ, or change mid-run, still compute one consistent result.
    params = models.JSONField(default=dict)
    shards_total = models.PositiveIntegerField()
    shards_done = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "job_id"], name="one_fanout_per_job")]

    def __str__(self) -> str:
        return f"{self.kind} job {self.job_id}: {self.shards_done}/{self.shards_total} shards"


class Shard(models.Model):
    """Keys in (low, high] of the job's deterministic order (image vector ids, product ids)."""

    fanout = models.ForeignKey(FanOut, on_delete=models.CASCADE, related_name="shards")
    number = models.PositiveIntegerField()
    low = models.BigIntegerField()
    high = models.BigIntegerField()
    # Set by each task that begins the shard; a worker frees what it loaded once every shard has begun.
    started_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["fanout", "number"]
        constraints = [models.UniqueConstraint(fields=["fanout", "number"], name="one_shard_per_number")]

    def __str__(self) -> str:
        return f"shard {self.number} ({self.low}, {self.high}] of {self.fanout_id}"
