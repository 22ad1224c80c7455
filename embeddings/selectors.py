"""Reads about vector spaces: which encoder serves each space."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Exists, OuterRef, Q

from embeddings.models import EncoderState, NeighbourRebuild, SpaceEncoder


@dataclass(frozen=True)
class ActiveEncoder:
    space: str
    identity: str  # "name@weights-revision", as stored on every vector row
    dim: int

    @property
    def name(self) -> str:
        """The registry name, for embeddings.encoders.get_encoder."""
        return self.identity.split("@", 1)[0]


def active_encoder(space: str) -> ActiveEncoder | None:
    """The encoder whose vectors queries of `space` compare against (None before the first embedding)."""
    row = SpaceEncoder.objects.filter(space=space, state=EncoderState.ACTIVE).only("encoder", "dim").first()
    return ActiveEncoder(space=space, identity=row.encoder, dim=row.dim) if row else None


def active_encoders() -> list[ActiveEncoder]:
    """Every space's active encoder (a space with none yet is left out), in one query."""
    rows = (
        SpaceEncoder.objects.filter(state=EncoderState.ACTIVE).order_by("space").values_list("space", "encoder", "dim")
    )
    return [ActiveEncoder(space=space, identity=identity, dim=dim) for space, identity, dim in rows]


def encoders_with_lists() -> list[ActiveEncoder]:
    """Encoders whose stored neighbour lists follow every vector change, in one query.

    Every active encoder, and a backfilling one whose list rebuild has begun (its
    lists must be complete and fresh when it is activated; before its rebuild
    begins there are no lists to keep, and the rebuild will read every vector).
    """
    rebuilt = NeighbourRebuild.objects.filter(space=OuterRef("space"), encoder=OuterRef("encoder"))
    rows = (
        SpaceEncoder.objects.alias(has_rebuild=Exists(rebuilt))
        .filter(Q(state=EncoderState.ACTIVE) | Q(state=EncoderState.BACKFILLING, has_rebuild=True))
        .order_by("space", "encoder")
        .values_list("space", "encoder", "dim")
    )
    return [ActiveEncoder(space=space, identity=identity, dim=dim) for space, identity, dim in rows]


def encoders_to_write(space: str) -> list[ActiveEncoder]:
    """Every encoder that new photos must be embedded with: the active one and any being backfilled."""
    rows = SpaceEncoder.objects.filter(space=space, state__in=[EncoderState.ACTIVE, EncoderState.BACKFILLING])
    return [ActiveEncoder(space=space, identity=row.encoder, dim=row.dim) for row in rows.order_by("id")]


def configured_encoder_name(space: str) -> str:
    """The registry name settings ask for in `space` (explicit override, else the profile's)."""
    from embeddings.encoders import PROFILES

    override = {
        "visual": settings.EMBEDDINGS_VISUAL_ENCODER,
        "semantic": settings.EMBEDDINGS_SEMANTIC_ENCODER,
    }[space]
    return override or PROFILES[settings.EMBEDDINGS_PROFILE][space]
