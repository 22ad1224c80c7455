"""`manage.py build_catalog_map`: compute and cache the 2D catalog map (t-SNE) of each space."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from embeddings.models import Space
from recommender.merchandising.catalog_map import CatalogMapError
from recommender.merchandising.services import catalog_map_build


class Command(BaseCommand):
    help = "Build the catalog map (2D t-SNE of product vectors) for the merchandiser map page."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--space", choices=[*Space.values, "all"], default="all")

    def handle(self, *args: Any, **options: Any) -> None:
        spaces = list(Space.values) if options["space"] == "all" else [options["space"]]
        for space in spaces:
            started = time.perf_counter()
            try:
                built, header = catalog_map_build(space=space)
            except CatalogMapError as error:
                raise CommandError(str(error)) from error
            self.stdout.write(
                f"{space}: {header['count']} products, {header['method']}, {time.perf_counter() - started:.1f} s "
                f"-> {built.points}"
            )
