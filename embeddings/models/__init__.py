from __future__ import annotations

from embeddings.models.spaces import EncoderState, Space, SpaceEncoder
from embeddings.models.vectors import ImageVector, ProductVector

__all__ = ["EncoderState", "ImageVector", "ProductVector", "Space", "SpaceEncoder"]
