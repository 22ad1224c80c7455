"""Reads about vector spaces: which encoder serves each space."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from embeddings.models import EncoderState, SpaceEncoder


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
