"""Feedback: what shoppers did with the products the storefront served, and the popularity it adds up to.

An event names its product and, when a storefront list served it, that list's
recommendation_id (the RecommendationLog row id every storefront response
carries). Both are plain values, not foreign keys enforced by the database, for
the log's reason: events must outlive the products and the logs they mention
(the log is pruned after RECOMMENDER_LOG_RETENTION_DAYS) and must not slow a
product's deletion. They are checked when the event is recorded (services.py).
"""

from __future__ import annotations

from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.utils import timezone

from catalog.models import Product


class EventType(models.TextChoices):
    VIEW = "view", "Product viewed"
    CLICK = "click", "Clicked in a list"
    ADD_TO_CART = "add_to_cart", "Added to the cart"
    PURCHASE = "purchase", "Purchased"


# The events popularity counts (decay.py weighs them).
POPULARITY_EVENTS = (EventType.CLICK.value, EventType.PURCHASE.value)


class Event(models.Model):
    event_type = models.CharField(max_length=16, choices=EventType.choices)
    # No database constraint and no cascade (see the module docstring); the ORM relation serves joins and the admin.
    product = models.ForeignKey(
        Product, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    recommendation_id = models.UUIDField(null=True, blank=True)
    # The shopper, as the client knows them (a random id kept in the browser, or the shop's own visitor id).
    client_id = models.CharField(max_length=64)
    # The client's own id for the event: a batch sent again after a timeout stores nothing twice.
    event_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # A click or purchase not yet added to ProductPopularity (services.popularity_update_batch clears it).
    popularity_pending = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event_id"], name="feedback_event_id_unique"),
            models.CheckConstraint(
                condition=models.Q(event_type__in=EventType.values), name="feedback_event_type_known"
            ),
        ]
        indexes = [
            # The report joins served lists to their events.
            models.Index(
                fields=["recommendation_id"],
                name="feedback_event_recommendation",
                condition=models.Q(recommendation_id__isnull=False),
            ),
            # The popularity update claims pending rows in id order; the index holds only those.
            models.Index(fields=["id"], name="feedback_event_pending", condition=models.Q(popularity_pending=True)),
            # Append-only in time order: a BRIN index is a few pages and serves the retention prune.
            BrinIndex(fields=["created_at"], name="feedback_event_created_brin"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} product {self.product_id}"


class ProductPopularity(models.Model):
    """One row per product with counted clicks or purchases: their exponentially decayed, weighted sum.

    Stored as a logarithm relative to a fixed epoch (decay.py), so that adding an event
    never rewrites the other rows and the current order is the order of `log_score`:
    decaying every score by the same factor changes no ranking.
    """

    product = models.OneToOneField(
        Product, on_delete=models.DO_NOTHING, db_constraint=False, primary_key=True, related_name="+"
    )
    log_score = models.FloatField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # In the selector's order (product id breaks ties): the top rows are the first index entries.
        indexes = [models.Index(models.F("log_score").desc(), models.F("product_id"), name="feedback_popularity_score")]

    def __str__(self) -> str:
        return f"product {self.product_id}: {self.log_score:.3f}"


class PopularityState(models.Model):
    """The one row saying which half-life the stored scores were computed with (a changed setting rebuilds them)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    half_life_hours = models.FloatField()

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="feedback_popularity_state_single")]

    def __str__(self) -> str:
        return f"popularity half-life {self.half_life_hours:g} h"
