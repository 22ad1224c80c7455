"""Duplicate listings: candidate pairs, review groups, decisions and their memory.

Pairs are the detector's output (one row per pair of products, with the
strongest photo evidence). Groups are what merchandisers review: complete-
linkage cliques of pairs, so every member is a duplicate candidate of every
other member and of the representative (no chaining). Decisions are kept as
an append-only log; a "not duplicate" decision is also remembered per pair
of products together with a digest of both products' photos, so the pair is
flagged again only when one of those photos changes.

The tables keep the names they had when one `recommender` app held everything
(db_table), so moving the code moved no data.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from catalog.models import Category, Product, ProductImage
from recommender.duplicates.thresholds import TIER_CHOICES


class GroupStatus(models.TextChoices):
    OPEN = "open", "Open"
    DUPLICATE = "duplicate", "Resolved: duplicate"
    NOT_DUPLICATE = "not_duplicate", "Resolved: not a duplicate"


class Decision(models.TextChoices):
    DUPLICATE = "duplicate", "Duplicate"
    NOT_DUPLICATE = "not_duplicate", "Not a duplicate"
    RESTORE = "restore", "Restore"


class DuplicatePair(models.Model):
    """Two active products that look alike, with the evidence: the photos compared and their scores."""

    # Ordered (low < high) so a pair has exactly one row, enforced below.
    product_low = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    product_high = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    image_low = models.ForeignKey(ProductImage, on_delete=models.CASCADE, related_name="+")
    image_high = models.ForeignKey(ProductImage, on_delete=models.CASCADE, related_name="+")
    tier = models.CharField(max_length=16, choices=TIER_CHOICES)
    similarity = models.FloatField(help_text="Visual cosine similarity of the two photos")
    phash_distance = models.PositiveSmallIntegerField(null=True, blank=True)
    same_bytes = models.BooleanField(default=False)
    encoder = models.CharField(max_length=160)
    detected_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "recommender_duplicatepair"
        constraints = [
            models.UniqueConstraint(fields=["product_low", "product_high"], name="duplicate_pair_unique"),
            models.CheckConstraint(
                condition=models.Q(product_low__lt=models.F("product_high")), name="duplicate_pair_ordered"
            ),
        ]
        indexes = [models.Index(fields=["product_high"], name="duplicate_pair_high")]

    def __str__(self) -> str:
        return f"{self.tier} pair {self.product_low_id}~{self.product_high_id} ({self.similarity:.3f})"


class DuplicateGroup(models.Model):
    tier = models.CharField(max_length=16, choices=TIER_CHOICES, help_text="The weakest member-to-representative tier")
    status = models.CharField(max_length=16, choices=GroupStatus.choices, default=GroupStatus.OPEN)
    representative = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    # Copied from the representative so the queue filters by category without a join.
    category = models.ForeignKey(Category, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    score = models.FloatField(help_text="The lowest member-to-representative similarity")
    kept_product = models.ForeignKey(Product, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "recommender_duplicategroup"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "tier", "-id"], name="duplicate_group_queue"),
            models.Index(fields=["category", "status"], name="duplicate_group_category"),
        ]

    def __str__(self) -> str:
        return f"{self.get_tier_display()} group {self.pk} ({self.status})"


class DuplicateGroupMember(models.Model):
    group = models.ForeignKey(DuplicateGroup, on_delete=models.CASCADE, related_name="members")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    is_representative = models.BooleanField(default=False)
    # Evidence against the representative (the representative's own row repeats its photo, similarity 1).
    image = models.ForeignKey(ProductImage, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    representative_image = models.ForeignKey(
        ProductImage, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    tier = models.CharField(max_length=16, choices=TIER_CHOICES)
    similarity = models.FloatField()
    phash_distance = models.PositiveSmallIntegerField(null=True, blank=True)
    # True when this group's "duplicate" decision deactivated the product, so a
    # restore reactivates exactly those and never a product hidden for another reason.
    deactivated = models.BooleanField(default=False)

    class Meta:
        db_table = "recommender_duplicategroupmember"
        ordering = ["-is_representative", "-similarity", "product_id"]
        constraints = [models.UniqueConstraint(fields=["group", "product"], name="duplicate_member_unique")]
        indexes = [models.Index(fields=["product"], name="duplicate_member_product")]

    def __str__(self) -> str:
        return f"product {self.product_id} in group {self.group_id}"


class DuplicateDismissal(models.Model):
    """A remembered "not duplicate": suppresses the pair while both products' photos stay the same."""

    product_low = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    product_high = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    # sha256 over the sorted sha256s of each product's photos when the decision was made.
    photos_low_digest = models.CharField(max_length=64)
    photos_high_digest = models.CharField(max_length=64)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField()

    class Meta:
        db_table = "recommender_duplicatedismissal"
        constraints = [
            models.UniqueConstraint(fields=["product_low", "product_high"], name="duplicate_dismissal_unique"),
            models.CheckConstraint(
                condition=models.Q(product_low__lt=models.F("product_high")), name="duplicate_dismissal_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"not duplicate: {self.product_low_id}~{self.product_high_id}"


class DuplicateDecision(models.Model):
    """Append-only log: who decided what about which group, and when."""

    group = models.ForeignKey(DuplicateGroup, on_delete=models.CASCADE, related_name="decisions")
    decision = models.CharField(max_length=16, choices=Decision.choices)
    kept_product = models.ForeignKey(Product, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # Products whose is_active this decision changed.
    changed_product_ids = models.JSONField(default=list)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "recommender_duplicatedecision"
        ordering = ["-decided_at", "-id"]

    def __str__(self) -> str:
        return f"{self.decision} on group {self.group_id}"


class ScanStatus(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"


class DuplicateScan(models.Model):
    """Progress of one `find_duplicates` run, so an interrupted scan resumes where it stopped."""

    encoder = models.CharField(max_length=160)
    status = models.CharField(max_length=16, choices=ScanStatus.choices, default=ScanStatus.RUNNING)
    # Photos with ImageVector.id <= cursor have been searched and their pairs stored.
    cursor = models.BigIntegerField(default=0)
    images_total = models.PositiveIntegerField(default=0)
    images_scanned = models.PositiveIntegerField(default=0)
    pairs_found = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "recommender_duplicatescan"
        constraints = [
            models.UniqueConstraint(
                fields=["encoder"], condition=models.Q(status="running"), name="one_running_scan_per_encoder"
            )
        ]

    def __str__(self) -> str:
        return f"scan {self.pk} of {self.encoder} ({self.status}, cursor {self.cursor})"
