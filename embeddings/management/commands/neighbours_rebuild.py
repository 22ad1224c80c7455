"""`python manage.py neighbours_rebuild [--space visual|semantic] [--restart]`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from embeddings.models import Space
from embeddings.neighbours import RebuildRunning, neighbour_lists_rebuild
from embeddings.selectors import encoders_with_lists


class Command(BaseCommand):
    help = (
        "Rebuild the stored 'more like this' lists (each product's RECOMMENDER_NEIGHBOURS nearest products) of "
        "each space's active encoder, in one pass. Interrupted? Run it again: it resumes after the last "
        "committed batch (--restart starts over). Beat runs it every NEIGHBOURS_REBUILD_HOURS."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--space", choices=Space.values, action="append", help="default: both spaces")
        parser.add_argument("--restart", action="store_true", help="start over instead of resuming")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
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
                run = neighbour_lists_rebuild(encoder=encoder, resume=not options["restart"], on_progress=progress)
            except RebuildRunning as exc:
                raise CommandError(str(exc)) from None
            finally:
                bar.close()
            seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0.0
            self.stdout.write(
                f"{encoder.space}: {encoder.identity}: {run.total} lists ({seconds:.1f} s since the run began)"
                + (f", {len(set(run.replay_ids))} changed meanwhile and refreshed" if run.replay_ids else "")
            )
