"""`import_catalog`: rows of products with photo paths or URLs -> products and photos, resumably.

A row is done once its product exists and each of its photo sources is a
photo of it (ProductImage.source), so re-running after an interruption skips
straight to what is missing, and the unique (product, bytes) constraint keeps
a photo fetched twice from becoming two.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from catalog.fetching import FetchError, fetch_image_bytes
from catalog.imaging import ImageRejected
from catalog.models import Product
from catalog.selectors import product_image_sources_done
from catalog.services import category_get_or_create, product_create, product_image_add
from embeddings.tasks import enqueue_embedding

TEXT_FIELDS = ("title", "description", "brand", "currency", "product_group", "seller")
IMAGE_SEPARATOR = "|"


@dataclass(frozen=True)
class Row:
    number: int  # line number in the file, for the failure summary
    fields: dict[str, Any]

    @property
    def sku(self) -> str:
        return str(self.fields.get("sku") or "").strip()

    @property
    def images(self) -> list[str]:
        """The photo sources; ValueError (a failure of this row alone) when `images` is neither text nor a list."""
        value = self.fields.get("images") or []
        if isinstance(value, str):
            value = value.split(IMAGE_SEPARATOR)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ValueError(f"images must be a list of paths or URLs (or text separated by |), got {value!r:.60}")
        return [item.strip() for item in value if item.strip()]


@dataclass
class RowResult:
    product_created: bool = False
    images_added: int = 0
    images_skipped: int = 0
    failures: list[str] = field(default_factory=list)


def read_rows(path: Path) -> Iterator[Row]:
    """Rows of a CSV file (header line; `images` separated by |, `attributes` as JSON) or JSON Lines."""
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        value = json.loads(line)
                    except json.JSONDecodeError as exc:
                        yield Row(number, {"_error": f"invalid JSON: {exc.msg}"})
                        continue
                    except RecursionError:
                        yield Row(number, {"_error": "invalid JSON: nested too deeply"})
                        continue
                    yield Row(number, value if isinstance(value, dict) else {"_error": "not a JSON object"})
        return
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for number, record in enumerate(csv.DictReader(handle), start=2):
            yield Row(number, {key.strip(): value for key, value in record.items() if key})


def count_rows(path: Path) -> int:
    with path.open(encoding="utf-8-sig") as handle:
        lines = sum(1 for line in handle if line.strip())
    return lines if path.suffix.lower() in (".jsonl", ".ndjson", ".json") else max(lines - 1, 0)


def import_row(row: Row, *, base_dir: Path) -> RowResult:
    result = RowResult()
    if "_error" in row.fields:
        result.failures.append(str(row.fields["_error"]))
        return result
    if not row.sku:
        result.failures.append("no sku")
        return result
    try:
        sources = row.images
        product, result.product_created = _product_for(row)
    except (ValidationError, ValueError, TypeError, RecursionError) as exc:
        # One malformed row is reported and skipped; the import goes on with the next.
        result.failures.append(f"product: {_describe(exc)}")
        return result
    done = product_image_sources_done(product.pk)
    added: list[int] = []
    for source in sources:
        if source in done:
            result.images_skipped += 1
            continue
        try:
            data = _load(source, base_dir=base_dir)
            outcome = product_image_add(product=product, data=data, source=source, enqueue=False)
        except (FetchError, ImageRejected, OSError) as exc:
            result.failures.append(f"{source}: {_describe(exc)}")
            continue
        if outcome.created:
            added.append(outcome.image.pk)
            result.images_added += 1
        else:
            result.images_skipped += 1
    # Few messages for many photos: the worker embeds them in batches anyway.
    enqueue_embedding(added)
    return result


def _product_for(row: Row) -> tuple[Product, bool]:
    existing = Product.objects.filter(sku=row.sku).first()
    if existing is not None:
        return existing, False
    fields = row.fields
    category = None
    if str(fields.get("category") or "").strip():
        category = category_get_or_create(name=str(fields["category"]).strip())
    try:
        price = Decimal(str(fields.get("price", "")).strip())
    except InvalidOperation:
        raise ValueError(f"price {fields.get('price')!r} is not a number") from None
    try:
        stock = int(str(fields.get("stock") or 0).strip())
    except ValueError:
        raise ValueError(f"stock {fields.get('stock')!r} is not a whole number") from None
    attributes = fields.get("attributes") or {}
    if isinstance(attributes, str):
        try:
            attributes = json.loads(attributes) if attributes.strip() else {}
        except (ValueError, RecursionError) as exc:
            # A CSV cell: the failure must name the column, not only json's "Expecting value: line 1".
            raise ValueError(f"attributes are not valid JSON ({exc})") from None
    if not isinstance(attributes, dict):
        raise ValueError("attributes must be a JSON object")
    text = {name: str(fields[name]).strip() for name in TEXT_FIELDS if fields.get(name) not in (None, "")}
    with transaction.atomic():
        product = product_create(
            sku=row.sku,
            price=price,
            category=category,
            stock=stock,
            attributes=attributes,
            is_active=str(fields.get("is_active", "true")).strip().lower() not in ("0", "false", "no", "off"),
            **{"title": row.sku, **text},
        )
    return product, True


class OutsideFeedError(OSError):
    """A local photo path that leads out of the feed's folder (../, an absolute path, a symlink elsewhere)."""


def _load(source: str, *, base_dir: Path) -> bytes:
    if source.startswith(("http://", "https://")):
        return fetch_image_bytes(source)
    # Confined to the feed's folder: a feed must not make the import read /etc/passwd or another shop's files.
    folder = base_dir.resolve()
    path = (folder / Path(source)).resolve()
    if not path.is_relative_to(folder):
        raise OutsideFeedError(f"{source}: outside the feed's folder {folder}; not read")
    return path.read_bytes()


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{name}: {' '.join(messages)}" for name, messages in exc.message_dict.items())
    if isinstance(exc, ImageRejected):
        return exc.message
    if isinstance(exc, FileNotFoundError):
        return f"no such file {exc.filename}"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc)
