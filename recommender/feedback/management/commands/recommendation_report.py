"""`manage.py recommendation_report`: impressions, clicks and CTR per day, endpoint, mode, strategy and encoder."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, astuple, fields
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from recommender.feedback.selectors.report import ReportRow, recommendation_report, report_totals

COLUMNS = ("day", "endpoint", "mode", "strategy", "encoder", "lists", "impressions", "clicks", "ctr")
COUNTED_AFTER = ("add_to_carts", "purchases")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _cells(row: ReportRow) -> list[str]:
    values = {**asdict(row), "day": row.day.isoformat(), "ctr": f"{row.ctr:.2%}"}
    return [str(values[column]) if values[column] != "" else "-" for column in (*COLUMNS, *COUNTED_AFTER)]


class Command(BaseCommand):
    help = (
        "Storefront lists served (impressions come from the recommendation log) and the clicks, carts and "
        "purchases attributed to them, per UTC day, endpoint, mode, strategy and encoder."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=7, help="the last N days, today included (default 7)")
        parser.add_argument("--since", help="first day, YYYY-MM-DD (instead of --days)")
        parser.add_argument("--until", help="last day, YYYY-MM-DD (default today)")
        parser.add_argument("--format", choices=["table", "csv", "json"], default="table")

    def handle(self, *args: Any, **options: Any) -> None:
        until = _day(options["until"]) if options["until"] else timezone.now().date()
        retention = settings.RECOMMENDER_LOG_RETENTION_DAYS
        if options["since"]:
            since = _day(options["since"])
        elif 1 <= options["days"] <= retention:
            since = until - timedelta(days=options["days"] - 1)
        else:
            raise CommandError(f"--days must be 1..{retention} (RECOMMENDER_LOG_RETENTION_DAYS: older logs are gone)")
        if since > until:
            raise CommandError(f"--since {since} is after --until {until}")
        rows = recommendation_report(since=since, until=until)
        if options["format"] == "json":
            self.stdout.write(json.dumps([{**asdict(r), "day": r.day.isoformat(), "ctr": r.ctr} for r in rows]))
            return
        if options["format"] == "csv":
            writer = csv.writer(self.stdout)
            writer.writerow([*(f.name for f in fields(ReportRow)), "ctr"])
            writer.writerows([*astuple(r), f"{r.ctr:.6f}"] for r in rows)
            return
        self._table(rows, since, until)

    def _table(self, rows: list[ReportRow], since: date, until: date) -> None:
        self.stdout.write(f"Recommendation report {since} .. {until} (UTC)")
        if not rows:
            self.stdout.write("No storefront lists were served in these days.")
            return
        table = [[*COLUMNS, *COUNTED_AFTER], *(_cells(row) for row in rows)]
        totals = report_totals(rows)
        if totals is not None:
            table.append(["total", "", "", "", "", *_cells(totals)[5:]])
        widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
        for line in table:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
