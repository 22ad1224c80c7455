from __future__ import annotations

from embeddings.models.neighbours import NeighbourRebuild, ProductNeighbours
from embeddings.models.spaces import EncoderState, Space, SpaceEncoder
from embeddings.models.vectors import ImageVector, ProductTextVector, ProductVector

__all__ = [
    "EncoderState",
    "ImageVector",
    "NeighbourRebuild",
    "ProductNeighbours",
    "ProductTextVector",
    "ProductVector",
    "Space",
    "SpaceEncoder",
]
