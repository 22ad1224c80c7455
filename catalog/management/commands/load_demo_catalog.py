"""`python manage.py load_demo_catalog [--limit N]`: Fashion-MNIST products, embedded by the worker in batches."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from catalog import demo_catalog
from catalog.models import Category, Product
from catalog.services import category_get_or_create
from catalog.services.bulk import NewListing, products_with_photos_bulk_create

CHUNK = 256  # products per transaction: ~1 s of rendering and file writes on a small CPU


class Command(BaseCommand):
    help = "Load a demo catalogue of real product photos (Fashion-MNIST, installed from Debian when missing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=2000, help="number of products (max 70000+variants)")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        limit: int = options["limit"]
        if limit < 1:
            raise CommandError("--limit must be at least 1")
        try:
            photos, labels = demo_catalog.load_photos(demo_catalog.dataset_dir())
        except (FileNotFoundError, OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        categories: dict[str, Category] = {
            name: category_get_or_create(name=name) for name, _, _ in demo_catalog.CATEGORIES
        }
        started = time.monotonic()
        created = 0
        items = list(demo_catalog.demo_items(labels, limit))
        existing = set(Product.objects.filter(sku__in=[item.sku for item in items]).values_list("sku", flat=True))
        todo = [item for item in items if item.sku not in existing]
        for start in tqdm(range(0, len(todo), CHUNK), unit="chunk", disable=options["no_progress"], file=self.stderr):
            listings = []
            for item in todo[start : start + CHUNK]:
                photo, data = demo_catalog.render_photo(photos[item.photo_index], item.colour)
                product = Product(
                    sku=item.sku,
                    title=item.title,
                    description=item.description,
                    brand=item.brand,
                    category=categories[item.category],
                    price=item.price,
                    stock=item.stock,
                    product_group=item.product_group,
                    seller=item.seller,
                    attributes={"colour": item.colour},
                )
                listings.append(NewListing(product=product, photo=photo, data=data))
            created += len(products_with_photos_bulk_create(listings=listings))
        self.stdout.write(
            f"demo catalogue: {created} products created, {len(existing)} already there, "
            f"in {time.monotonic() - started:.1f}s; the worker is embedding their photos"
        )
