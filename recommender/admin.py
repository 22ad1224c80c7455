"""Admin of the recommender app; duplicate review is registered by its own sub-package."""

from __future__ import annotations

from recommender.duplicates import admin as duplicates_admin

__all__ = ["duplicates_admin"]
