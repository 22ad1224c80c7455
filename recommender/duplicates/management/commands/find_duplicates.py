"""`python manage.py find_duplicates`: scan the whole catalog for duplicate listings."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from config.fanout.services import FanOutGone, fanout_wait
from recommender.duplicates.models import DuplicateScan
from recommender.duplicates.scan import BATCH_SIZE, ScanError, duplicates_scan
from recommender.duplicates.scan_shards import duplicates_scan_fan_out


class Command(BaseCommand):
    help = (
        "Find duplicate listings across the catalog (batched, resumable) and regroup the review queue. "
        "--shards N runs it as N Celery tasks on the `default` workers instead of in this process."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--restart", action="store_true", help="start over instead of resuming an interrupted scan")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="photos searched per batch")
        parser.add_argument("--k", type=int, default=None, help="neighbours per photo (default DUPLICATES_KNN_LIMIT)")
        parser.add_argument("--shards", type=int, default=None, help="fan the scan out over the workers in N tasks")
        parser.add_argument("--no-wait", action="store_true", help="with --shards: enqueue and return")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1 or (options["k"] is not None and not 1 <= options["k"] <= 500):
            raise CommandError("--batch-size must be >= 1 and --k between 1 and 500")
        if options["shards"] is not None:
            self._sharded(options)
            return
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
        self._report(scan)

    def _sharded(self, options: dict[str, Any]) -> None:
        try:
            scan, fanout, resumed = duplicates_scan_fan_out(
                shards=options["shards"],
                resume=not options["restart"],
                batch_size=options["batch_size"],
                k=options["k"],
            )
        except ScanError as error:
            raise CommandError(str(error)) from None
        done = fanout.shards.filter(done_at__isnull=False).count()
        self.stdout.write(
            f"scan {scan.pk}: {'resuming, ' if resumed else ''}{fanout.shards_total - done} of "
            f"{fanout.shards_total} shards queued for the workers"
        )
        if options["no_wait"]:
            return
        # Interrupting this wait stops nothing: the workers carry on, and running the command again follows them.
        with tqdm(unit="shard", disable=options["no_progress"], file=self.stderr) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            try:
                fanout_wait(fanout.pk, on_progress=progress)
            except FanOutGone as error:
                raise CommandError(str(error)) from None
        self._report(DuplicateScan.objects.get(pk=scan.pk))

    def _report(self, scan: DuplicateScan) -> None:
        self.stdout.write(
            f"scanned {scan.images_scanned} of {scan.images_total} photos, {scan.pairs_found} candidate pairs stored"
        )
