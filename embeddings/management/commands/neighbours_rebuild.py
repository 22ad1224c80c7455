"""`python manage.py neighbours_rebuild [--space visual|semantic] [--restart] [--shards N [--no-wait]]`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from config.fanout.services import FanOutGone, fanout_wait
from embeddings.models import NeighbourRebuild, Space
from embeddings.neighbour_shards import neighbour_lists_rebuild_fan_out
from embeddings.neighbours import RebuildRunning, neighbour_lists_rebuild
from embeddings.selectors import ActiveEncoder, encoders_with_lists


class Command(BaseCommand):
    help = (
        "Rebuild the stored 'more like this' lists (each product's RECOMMENDER_NEIGHBOURS nearest products) of "
        "each space's active encoder, in one pass. Interrupted? Run it again: it resumes after the last "
        "committed batch (--restart starts over). Beat runs it every NEIGHBOURS_REBUILD_HOURS. "
        "--shards N runs it as N Celery tasks on the `default` workers instead of in this process."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--space", choices=Space.values, action="append", help="default: both spaces")
        parser.add_argument("--restart", action="store_true", help="start over instead of resuming")
        parser.add_argument("--shards", type=int, default=None, help="fan the rebuild out over the workers in N tasks")
        parser.add_argument("--no-wait", action="store_true", help="with --shards: enqueue and return")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["shards"] is not None and options["shards"] < 1:
            raise CommandError(f"--shards must be at least 1, got {options['shards']}")
        spaces = options["space"] or Space.values
        encoders = [encoder for encoder in encoders_with_lists() if encoder.space in spaces]
        if not encoders:
            raise CommandError(f"no encoder to rebuild lists for in {', '.join(spaces)}: embed some photos first")
        for encoder in encoders:
            bar = tqdm(unit="product", desc=encoder.space, disable=options["no_progress"], file=self.stderr)

            def progress(done: int, total: int, bar: tqdm[Any] = bar) -> None:
                if bar.total != total:
                    bar.reset(total=total)
                bar.n = done
                bar.refresh()

            try:
                if options["shards"] is not None:
                    run = self._sharded(encoder, options, progress)
                else:
                    run = neighbour_lists_rebuild(encoder=encoder, resume=not options["restart"], on_progress=progress)
            except (RebuildRunning, FanOutGone) as exc:
                raise CommandError(str(exc)) from None
            finally:
                bar.close()
            if run.finished_at is None:  # --no-wait
                continue
            seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0.0
            self.stdout.write(
                f"{encoder.space}: {encoder.identity}: {run.total} lists ({seconds:.1f} s since the run began)"
                + (f", {len(set(run.replay_ids))} changed meanwhile and refreshed" if run.replay_ids else "")
            )

    def _sharded(
        self, encoder: ActiveEncoder, options: dict[str, Any], progress: Callable[[int, int], None]
    ) -> NeighbourRebuild:
        run, fanout, resumed = neighbour_lists_rebuild_fan_out(
            encoder=encoder, shards=options["shards"], resume=not options["restart"]
        )
        self.stdout.write(
            f"{encoder.space}: rebuild {run.pk}: {'resuming, ' if resumed else ''}"
            f"{fanout.shards_total - fanout.shards_done} of {fanout.shards_total} shards queued for the workers"
        )
        if not options["no_wait"]:
            # Interrupting this wait stops nothing: the workers carry on; running the command again follows them.
            fanout_wait(fanout.pk, on_progress=progress)
        run.refresh_from_db()
        return run
