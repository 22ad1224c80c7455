"""Writes about vector spaces: registering an encoder for a space."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from embeddings.models import EncoderState, SpaceEncoder
from embeddings.vector_indexes import ensure_hnsw_index


def space_encoder_register(*, space: str, identity: str, dim: int) -> SpaceEncoder:
    """Record that `identity` writes vectors into `space`, and give it its HNSW indexes.

    The first encoder of a space becomes active at once (nothing to backfill).
    A later one starts `backfilling`: `embed_backfill --activate` switches the
    space over when every product has a vector, so queries never mix encoders.
    """
    ensure_hnsw_index(kind="product", space=space, encoder=identity, dim=dim)
    ensure_hnsw_index(kind="image", space=space, encoder=identity, dim=dim)
    existing = SpaceEncoder.objects.filter(space=space, encoder=identity).first()
    if existing is not None:
        return existing
    has_active = SpaceEncoder.objects.filter(space=space, state=EncoderState.ACTIVE).exists()
    try:
        # Two workers may register the same new encoder at once; the unique
        # constraints (one row per encoder, one active per space) pick a winner
        # and the loser re-reads the winner's row.
        with transaction.atomic():
            return SpaceEncoder.objects.create(
                space=space,
                encoder=identity,
                dim=dim,
                state=EncoderState.BACKFILLING if has_active else EncoderState.ACTIVE,
                activated_at=None if has_active else timezone.now(),
            )
    except IntegrityError:
        return SpaceEncoder.objects.get(space=space, encoder=identity)


def space_encoder_activate(*, space: str, identity: str) -> SpaceEncoder:
    """Switch queries of `space` to `identity`; the previous active encoder is retired."""
    with transaction.atomic():
        # Lock the space's rows so two activations cannot both retire-and-activate.
        rows = list(SpaceEncoder.objects.select_for_update().filter(space=space))
        target = next((row for row in rows if row.encoder == identity), None)
        if target is None:
            raise SpaceEncoder.DoesNotExist(f"encoder {identity!r} is not registered for space {space!r}")
        SpaceEncoder.objects.filter(space=space, state=EncoderState.ACTIVE).exclude(pk=target.pk).update(
            state=EncoderState.RETIRED
        )
        target.state = EncoderState.ACTIVE
        target.activated_at = timezone.now()
        target.save(update_fields=["state", "activated_at"])
        return target
