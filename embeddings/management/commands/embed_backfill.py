"""`python manage.py embed_backfill [--space visual|semantic] [--only-missing] [--activate]`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from embeddings.backfill import backfill_space
from embeddings.encoders import WeightsUnavailableError
from embeddings.models import Space


class Command(BaseCommand):
    help = (
        "(Re-)embed every embedded photo with each space's configured encoder, in batches, then build its "
        "HNSW indexes. Interrupted? Re-run with --only-missing to resume. --activate switches queries of the "
        "space to the encoder once every photo has its vector."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--space", choices=Space.values, action="append", help="default: both spaces")
        parser.add_argument("--only-missing", action="store_true", help="skip photos that already have a vector")
        parser.add_argument("--activate", action="store_true", help="make the encoder the space's active one")
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        incomplete = []
        for space in options["space"] or Space.values:
            bar = tqdm(unit="img", desc=space, disable=options["no_progress"], file=self.stderr)

            def set_total(total: int, bar: tqdm[Any] = bar) -> None:
                bar.reset(total=total)

            try:
                report = backfill_space(
                    space=space,
                    only_missing=options["only_missing"],
                    activate=options["activate"],
                    batch_size=options["batch_size"],
                    progress=bar.update,
                    on_total=set_total,
                )
            except WeightsUnavailableError as exc:
                raise CommandError(str(exc)) from None
            finally:
                bar.close()
            rate = report.embedded / bar.format_dict["elapsed"] if bar.format_dict["elapsed"] else 0.0
            self.stdout.write(
                f"{space}: {report.identity} ({report.state}): {report.embedded} photos embedded "
                f"({rate:.1f}/s), {len(report.failed)} undecodable, {report.missing_after} still missing"
                + (f"; the words of {report.texts} products embedded" if report.texts else "")
                + ("; HNSW indexes rebuilt" if report.index_rebuilt else "")
                + ("; neighbour lists rebuilt before activation" if report.lists_rebuilt else "")
            )
            for image_id, reason in list(report.failed.items())[:20]:
                self.stdout.write(f"  photo {image_id}: {reason}")
            if options["activate"] and report.missing_after:
                incomplete.append(f"{space} ({report.missing_after} photos without a vector)")
        if incomplete:
            raise CommandError(f"not activated, backfill incomplete: {', '.join(incomplete)}; re-run --only-missing")
