"""Models of the recommender app; duplicate listings live in their own sub-package."""

from __future__ import annotations

from recommender.duplicates.models import (
    DuplicateDecision,
    DuplicateDismissal,
    DuplicateGroup,
    DuplicateGroupMember,
    DuplicatePair,
    DuplicateScan,
)
from recommender.logs import RecommendationLog

__all__ = [
    "DuplicateDecision",
    "DuplicateDismissal",
    "DuplicateGroup",
    "DuplicateGroupMember",
    "DuplicatePair",
    "DuplicateScan",
    "RecommendationLog",
]
