"""The worker's text batch: products whose words changed get text vectors, then their vectors recomputed.

The catalog's services mark a product dirty (Product.text_dirty_at, with
text_version bumped in the same UPDATE) whenever its title, brand, category,
attributes or description change, and enqueue it once that commits. Here:

1. read the dirty products' words and versions: SELECT ... FOR UPDATE SKIP
   LOCKED in a short transaction, so a row an edit is writing right now is
   left to the message that edit enqueues;
2. encode them with every semantic encoder being written that has a text
   tower, with no transaction open (a forward pass takes a while);
3. in one transaction, lock the product rows, write the text vectors (an
   older version never replaces a newer one), clear the flag only where the
   version is still the one encoded, and recompute the products' vectors
   (embeddings.services.product_vectors_recompute, which blends them in).

Two workers may encode the same product at once (a message and the sweeper):
both write the same version, the upsert keeps one, and the flag is cleared
once, so running twice is wasted work, never wrong. An edit that lands between
1 and 3 bumps the version: the flag stays set and that edit's message (or the
sweeper) embeds the new words. Lock order: product rows only, in id order
(product_vectors_recompute's), after no photo lock, so no path deadlocks.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from embeddings.encoders.multimodal import product_text
from embeddings.models import ProductVector, Space
from embeddings.pipeline import Target, write_targets
from embeddings.services import product_text_vectors_write, product_vectors_recompute

logger = logging.getLogger(__name__)

# Products per text batch and per message: one text-tower pass each over short texts (multimodal.MAX_TEXT_CHARS).
TEXT_BATCH = 256
SWEEP_LIMIT = 10_000


@dataclass(frozen=True)
class ProductWords:
    product_id: int
    text_version: int
    text: str


def text_targets() -> list[Target]:
    """The semantic encoders being written (active, backfilling) whose text tower this worker can run."""
    return [t for t in write_targets() if Space.blends_text(t.space) and t.encoder.supports_text]


def product_words(rows: Sequence[tuple[int, int, str, str, str, object, str]]) -> list[ProductWords]:
    """(id, text_version, title, brand, category name, attributes, description) rows -> the text tower's input."""
    return [
        ProductWords(
            product_id=product_id,
            text_version=version,
            text=product_text(
                title=title,
                brand=brand,
                category=category or "",
                attributes=attributes if isinstance(attributes, dict) else {},
                description=description,
            ),
        )
        for product_id, version, title, brand, category, attributes, description in rows
    ]


# A product's words, as product_words reads them.
WORDS_SQL = (
    "SELECT p.id, p.text_version, p.title, p.brand, c.name, p.attributes, p.description "
    "FROM catalog_product p LEFT JOIN catalog_category c ON c.id = p.category_id"
)


def claim_dirty(*, product_ids: Sequence[int] | None, limit: int) -> list[ProductWords]:
    """The words of up to `limit` dirty products (of `product_ids`, or any); rows being written are skipped."""
    only = "AND p.id = ANY(%s)" if product_ids is not None else ""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"{WORDS_SQL} WHERE p.text_dirty_at IS NOT NULL {only} ORDER BY p.id LIMIT %s FOR UPDATE OF p SKIP LOCKED",
            [*([list(product_ids)] if product_ids is not None else []), limit],
        )
        return product_words(cursor.fetchall())


def embed_product_texts(*, product_ids: Sequence[int] | None = None, batch_size: int = TEXT_BATCH) -> int:
    """Embed the dirty products among `product_ids` (all dirty ones when None), batch by batch; the count done."""
    ids = None if product_ids is None else sorted({int(i) for i in product_ids})
    targets: list[Target] | None = None
    done = 0
    start = 0
    while ids is None or start < len(ids):
        chunk = None if ids is None else ids[start : start + batch_size]
        words = claim_dirty(product_ids=chunk, limit=batch_size)
        start += batch_size
        if not words:
            if ids is None:
                break
            continue
        # Loaded once, before any write transaction: a first model load takes seconds.
        targets = targets if targets is not None else text_targets()
        done += texts_write(words, targets)
    return done


def texts_write(words: Sequence[ProductWords], targets: Sequence[Target], *, clear: bool = True) -> int:
    """Encode `words` with every target (outside any transaction), then write, clear and recompute in one.

    `clear=False` (a backfill of one encoder) leaves the dirty flags to the
    worker, which writes every encoder: the others may still lack the words.
    """
    vectors = [target.encoder.encode_texts([item.text for item in words]) for target in targets]
    ids = [item.product_id for item in words]
    with transaction.atomic(), connection.cursor() as cursor:
        # The products' locks first (id order, as the recompute takes them): a delete waits for us
        # instead of racing the text vectors' foreign key.
        cursor.execute("SELECT id FROM catalog_product WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE", [ids])
        for target, space_vectors in zip(targets, vectors, strict=True):
            product_text_vectors_write(
                space=target.space,
                encoder=target.identity,
                product_ids=ids,
                text_versions=[item.text_version for item in words],
                vectors=space_vectors,
            )
        if clear:
            # Clean only if no edit bumped the version since it was read: otherwise its words are newer.
            cursor.execute(
                "UPDATE catalog_product p SET text_dirty_at = NULL "
                "FROM unnest(%s::bigint[], %s::int[]) AS t(id, version) "
                "WHERE p.id = t.id AND p.text_version = t.version",
                [ids, [item.text_version for item in words]],
            )
        # Only products with a vector of these encoders have something to blend the words into (a backfill's
        # new encoder has none before its photos are embedded, which then blend the words in themselves).
        blended = ProductVector.objects.filter(product_id__in=ids, encoder__in=[t.identity for t in targets])
        product_vectors_recompute(
            product_ids=list(blended.values_list("product_id", flat=True).distinct()),
            spaces=sorted({target.space for target in targets}),
        )
    logger.info("embedded the words of %d products", len(ids))
    return len(ids)


def texts_backfill(*, target: Target, only_missing: bool, batch_size: int = TEXT_BATCH) -> int:
    """Every product's words through `target`'s text tower, in keyset batches; the count written.

    With only_missing, products that already have a text vector of the
    encoder at their current text version are skipped (a resumed backfill).
    """
    missing = (
        "AND NOT EXISTS (SELECT 1 FROM embeddings_producttextvector t WHERE t.product_id = p.id "
        "AND t.space = %s AND t.encoder = %s AND t.text_version >= p.text_version)"
    )
    done, last_id = 0, 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                f"{WORDS_SQL} WHERE p.id > %s {missing if only_missing else ''} ORDER BY p.id LIMIT %s",
                [last_id, *([target.space, target.identity] if only_missing else []), batch_size],
            )
            words = product_words(cursor.fetchall())
        if not words:
            return done
        last_id = words[-1].product_id
        done += texts_write(words, [target], clear=False)


def stale_dirty_products_touch(*, older_than: timedelta) -> list[int]:
    """Restart the clock of products dirty longer than `older_than`; return their ids (to re-enqueue).

    As embeddings.pipeline.stale_pending_images_touch: SKIP LOCKED and the
    touch in one statement, so two sweepers never both re-enqueue a product.
    """
    cutoff = timezone.now() - older_than
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            WITH stale AS (
                SELECT id FROM catalog_product WHERE text_dirty_at < %s
                ORDER BY text_dirty_at LIMIT %s
                FOR UPDATE SKIP LOCKED
            )
            UPDATE catalog_product AS p SET text_dirty_at = now()
            FROM stale WHERE p.id = stale.id
            RETURNING p.id
            """,
            [cutoff, SWEEP_LIMIT],
        )
        return sorted(row[0] for row in cursor.fetchall())
