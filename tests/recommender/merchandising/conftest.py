"""The staff pages' tests use the pages' shop fixtures (tests/recommender/pages_fixtures.py)."""

from __future__ import annotations

from tests.recommender.pages_fixtures import clean_cache, encoders, merchandiser, private_media, shop

__all__ = ["clean_cache", "encoders", "merchandiser", "private_media", "shop"]
