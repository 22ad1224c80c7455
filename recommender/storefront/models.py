"""The recommendation log: one row per served storefront list (its id is the recommendation_id)."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone


class RecommendationLog(models.Model):
    """One served list: what was asked, what came back, how it ran.

    The id is the `recommendation_id` every storefront response carries, so a
    click on a result can be attributed to the list that showed it. The source
    product is a plain integer, not a foreign key: a log must outlive the
    products it mentions and must not slow their deletion.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.CharField(max_length=32)
    source_product_id = models.BigIntegerField(null=True, blank=True)
    params = models.JSONField(default=dict)
    product_ids = ArrayField(models.BigIntegerField(), default=list)
    strategy = models.CharField(max_length=32)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        # The table's name from the one-app layout: moving the code moved no data.
        db_table = "recommender_recommendationlog"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.id}"
