"""`python manage.py embed_texts [--all]`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.services import product_texts_mark_all_dirty
from embeddings.encoders import WeightsUnavailableError
from embeddings.texts import embed_product_texts


class Command(BaseCommand):
    help = (
        "Embed the words of every product marked dirty (title, brand, category, attributes or description "
        "changed, or never embedded) with the semantic encoders' text towers, in this process, and blend them "
        "into the products' semantic vectors. --all marks every product dirty first (after changing "
        "SEMANTIC_TEXT_WEIGHT). The worker does the same for each edit; this is for a whole catalogue at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="re-embed every product's words")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["all"]:
            self.stdout.write(f"{product_texts_mark_all_dirty()} products marked dirty")
        try:
            done = embed_product_texts()
        except WeightsUnavailableError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"the words of {done} products embedded")
