"""Stored "more like this" lists: each product's nearest products in one (space, encoder), computed ahead.

The classic item-to-item design (commercial recommenders answer "more like
this" from lists built ahead): a product page reads one row instead of running
an HNSW scan. The worker keeps the lists fresh as vectors change
(embeddings.neighbours), in the transaction that writes the vectors, and
`manage.py neighbours_rebuild` builds them all. Lists hold product ids only,
nearest first: whether a neighbour is active, in stock or matches a filter is
read from the live product row when the list is served, never stored here.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper

from catalog.models import Product
from embeddings.models.spaces import Space


class RealField(models.FloatField):
    """A single-precision float (PostgreSQL `real`): a similarity needs no more, and lists stay half the size."""

    def db_type(self, connection: BaseDatabaseWrapper) -> str:
        return "real"


class ProductNeighbours(models.Model):
    # The unique constraint's index (product, space, encoder) serves lookups by product: no second one.
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+", db_index=False)
    space = models.CharField(max_length=16, choices=Space.choices)
    encoder = models.CharField(max_length=160)
    # Nearest first; similarities[i] is the cosine similarity of neighbour_ids[i] to the product.
    neighbour_ids = ArrayField(models.BigIntegerField(), default=list)
    similarities = ArrayField(RealField(), default=list)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product", "space", "encoder"], name="product_neighbours_unique"),
        ]
        # No index on neighbour_ids: each vector change rewrites about a hundred lists (every list the
        # product now beats), and a GIN index would re-insert every id of every rewritten list. Without
        # it the rewrites can be HOT updates (the table's fillfactor, set in its migration, leaves room).

    def __str__(self) -> str:
        return f"{self.space} neighbours of product {self.product_id} ({self.encoder})"


class NeighbourRebuild(models.Model):
    """Progress of one `neighbours_rebuild` of a (space, encoder), so an interrupted rebuild resumes."""

    space = models.CharField(max_length=16, choices=Space.choices)
    encoder = models.CharField(max_length=160)
    # Products with id <= cursor have their list.
    cursor = models.BigIntegerField(default=0)
    # Products whose vectors changed while this rebuild ran: its batches are computed from the vectors
    # read at its start, so these are refreshed again once the last batch is written.
    replay_ids = ArrayField(models.BigIntegerField(), default=list)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["space", "encoder"],
                condition=models.Q(finished_at__isnull=True),
                name="one_running_neighbour_rebuild",
            )
        ]

    def __str__(self) -> str:
        return f"neighbour rebuild of {self.space} {self.encoder} at {self.cursor}"
