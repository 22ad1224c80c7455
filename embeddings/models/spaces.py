from __future__ import annotations

from django.db import models


class Space(models.TextChoices):
    VISUAL = "visual", "Visual (DINOv2: same look, near-duplicates)"
    SEMANTIC = "semantic", "Semantic (SigLIP: image-text)"

    @classmethod
    def blends_text(cls, space: str) -> bool:
        """Whether the space's product vectors blend in the product's own words (its encoder has a text tower)."""
        return space == cls.SEMANTIC


class EncoderState(models.TextChoices):
    # Vectors are being written (new uploads and a backfill); queries don't use them yet.
    BACKFILLING = "backfilling", "Backfilling"
    # The one encoder whose vectors queries of this space compare against.
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class SpaceEncoder(models.Model):
    """Which encoder serves a space, and which are being backfilled.

    Changing a model never drops data: the new encoder starts `backfilling`,
    `embed_backfill` fills its vectors, and only when complete is it switched to
    `active`. Queries read vectors of the active encoder only, so vectors of two
    encoders are never compared.
    """

    space = models.CharField(max_length=16, choices=Space.choices)
    encoder = models.CharField(max_length=160, help_text="Encoder identity: name@weights-revision")
    dim = models.PositiveIntegerField()
    state = models.CharField(max_length=16, choices=EncoderState.choices, default=EncoderState.BACKFILLING)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["space", "encoder"], name="space_encoder_unique"),
            models.UniqueConstraint(
                fields=["space"], condition=models.Q(state="active"), name="one_active_encoder_per_space"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.space}: {self.encoder} ({self.state})"
