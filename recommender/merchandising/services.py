"""Writes of the staff pages: the catalogue map's files (computed from the current vectors, written atomically),
and the store-wide merchandising rules."""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from django.utils import timezone

from embeddings.selectors import active_encoder
from recommender.merchandising.catalog_map import (
    MAP_FORMAT,
    MAP_GRID,
    CatalogMapError,
    MapFile,
    map_file,
    project_2d,
    quantise,
)
from recommender.merchandising.models import MerchandisingRule
from recommender.merchandising.rules import store_rules_forget
from recommender.merchandising.selectors import map_categories, product_vectors


def catalog_map_build(*, space: str) -> tuple[MapFile, dict[str, Any]]:
    """Compute the map of `space` for its active encoder and write it atomically; return it and its header."""
    encoder = active_encoder(space)
    if encoder is None:
        raise CatalogMapError(f"space {space!r} has no active encoder yet: embed some products first")
    ids, vectors = product_vectors(space=space, encoder=encoder.identity)
    if ids.size == 0:
        raise CatalogMapError(f"no active product has a {space} vector of {encoder.identity}")
    points, method = project_2d(vectors)
    grid = quantise(points)
    category_names, category_index = map_categories(ids)
    header = {
        "format": MAP_FORMAT,
        "space": space,
        "encoder": encoder.identity,
        "method": method,
        "built_at": timezone.now().isoformat(timespec="seconds"),
        "count": int(ids.size),
        "grid": MAP_GRID,
    }
    body = {
        **header,
        "categories": category_names,
        "ids": np.diff(ids, prepend=0).tolist(),
        "x": grid[:, 0].tolist(),
        "y": grid[:, 1].tolist(),
        "c": category_index,
    }
    target = map_file(space=space, encoder=encoder.identity)
    # Points first, header last: a header never announces points that are not there yet.
    _write_atomically(target.points, gzip.compress(json.dumps(body, separators=(",", ":")).encode(), 6))
    _write_atomically(target.meta, json.dumps(header).encode())
    return target, header


def _write_atomically(path: Path, data: bytes) -> None:
    # Write to a temporary file and rename: a page reading the map while it is
    # rebuilt sees the old file or the new one, never half of one.
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


def merchandising_rule_save(*, rule: MerchandisingRule) -> MerchandisingRule:
    """Validate (MerchandisingRule.clean: a missing category or attribute is refused here) and store a rule.

    This process forgets its cached rules at once; the others within RULES_TTL_SECONDS.
    """
    rule.full_clean()
    rule.save()
    store_rules_forget()
    return rule


def merchandising_rule_delete(*, rule: MerchandisingRule) -> None:
    rule.delete()
    store_rules_forget()
