"""`python manage.py find_duplicates`: scan the whole catalog for duplicate listings."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from recommender.duplicates.scan import BATCH_SIZE, ScanError, duplicates_scan


class Command(BaseCommand):
    help = "Find duplicate listings across the catalog (batched, resumable) and regroup the review queue."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--restart", action="store_true", help="start over instead of resuming an interrupted scan")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="photos searched per batch")
        parser.add_argument("--k", type=int, default=None, help="neighbours per photo (default DUPLICATES_KNN_LIMIT)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1 or (options["k"] is not None and not 1 <= options["k"] <= 500):
            raise CommandError("--batch-size must be >= 1 and --k between 1 and 500")
        bar: tqdm[Any] | None = None

        def loaded(total: int, done: int) -> None:
            nonlocal bar
            if done:
                self.stdout.write(f"resuming: {done} of {total} photos already scanned")
            bar = tqdm(total=total, initial=done, unit="photo", disable=options["no_progress"], file=self.stderr)

        def batch(count: int) -> None:
            if bar is not None:
                bar.update(count)

        try:
            scan = duplicates_scan(
                resume=not options["restart"],
                batch_size=options["batch_size"],
                k=options["k"],
                on_loaded=loaded,
                on_batch=batch,
            )
        except ScanError as error:
            raise CommandError(str(error)) from None
        finally:
            if bar is not None:
                bar.close()
        self.stdout.write(
            f"scanned {scan.images_scanned} of {scan.images_total} photos, {scan.pairs_found} candidate pairs stored"
        )
