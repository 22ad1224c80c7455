"""`python manage.py import_catalog FILE`: products and photos from CSV or JSON Lines, resumable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from catalog.importing import count_rows, import_row, read_rows


class Command(BaseCommand):
    help = (
        "Import products from CSV (header row; `images` separated by |, `attributes` as JSON) or JSON Lines "
        "(`images` a list). Images are local paths (relative to the file) or http(s) URLs. Re-running skips "
        "products and photos already imported."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs, CI)")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        totals = {"products created": 0, "photos added": 0, "already done": 0}
        failures: list[tuple[int, str, str]] = []
        rows = tqdm(
            read_rows(path), total=count_rows(path), unit="row", disable=options["no_progress"], file=self.stderr
        )
        for row in rows:
            result = import_row(row, base_dir=path.parent)
            totals["products created"] += int(result.product_created)
            totals["photos added"] += result.images_added
            totals["already done"] += result.images_skipped
            failures += [(row.number, row.sku, reason) for reason in result.failures]
        self.stdout.write(", ".join(f"{name}: {count}" for name, count in totals.items()))
        if failures:
            self.stdout.write(f"{len(failures)} failed:")
            for number, sku, reason in failures:
                self.stdout.write(f"  line {number} {json.dumps(sku)}: {reason}")
            raise CommandError(f"{len(failures)} rows or photos failed (listed above); fix them and re-run")
