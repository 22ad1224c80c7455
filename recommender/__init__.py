"""The shopper- and merchandiser-facing side of Lookalike, one Django app per subdomain.

- recommender.storefront: the shopper API (similar, search, search by photo,
  recommendations), its rankings and the recommendation log, and the storefront pages;
- recommender.duplicates: duplicate-listing detection, groups, the scan and the review queue;
- recommender.merchandising: the staff pages (duplicate review, similarity matrix, catalogue map).

This package itself is not an app; see docs/ARCHITECTURE.md for who imports whom.
"""
