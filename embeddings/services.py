"""Writes about vector spaces: registering an encoder for a space, image, text and product vectors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from embeddings.encoders.multimodal import blend
from embeddings.models import EncoderState, ImageVector, ProductTextVector, ProductVector, Space, SpaceEncoder
from embeddings.neighbours import neighbour_lists_refresh
from embeddings.selectors import encoders_with_lists
from embeddings.vector_codec import halfvec_from_wire, halfvec_send_sql, vector_literal, vector_literals
from embeddings.vector_indexes import ensure_hnsw_index, index_kinds


def space_encoder_register(*, space: str, identity: str, dim: int) -> SpaceEncoder:
    """Record that `identity` writes vectors into `space`, and give it its HNSW indexes.

    The first encoder of a space becomes active at once (nothing to backfill).
    A later one starts `backfilling`: `embed_backfill --activate` switches the
    space over when every product has a vector, so queries never mix encoders.
    """
    for kind in index_kinds(space):
        ensure_hnsw_index(kind=kind, space=space, encoder=identity, dim=dim)
    existing = SpaceEncoder.objects.filter(space=space, encoder=identity).first()
    if existing is not None:
        return existing
    has_active = SpaceEncoder.objects.filter(space=space, state=EncoderState.ACTIVE).exists()
    try:
        # Two workers may register the same new encoder at once; the unique
        # constraints (one row per encoder, one active per space) pick a winner
        # and the loser re-reads the winner's row.
        with transaction.atomic():
            return SpaceEncoder.objects.create(
                space=space,
                encoder=identity,
                dim=dim,
                state=EncoderState.BACKFILLING if has_active else EncoderState.ACTIVE,
                activated_at=None if has_active else timezone.now(),
            )
    except IntegrityError:
        return SpaceEncoder.objects.get(space=space, encoder=identity)


def space_encoder_activate(*, space: str, identity: str) -> SpaceEncoder:
    """Switch queries of `space` to `identity`; the previous active encoder is retired."""
    with transaction.atomic():
        # Lock the space's rows so two activations cannot both retire-and-activate.
        rows = list(SpaceEncoder.objects.select_for_update().filter(space=space))
        target = next((row for row in rows if row.encoder == identity), None)
        if target is None:
            raise SpaceEncoder.DoesNotExist(f"encoder {identity!r} is not registered for space {space!r}")
        SpaceEncoder.objects.filter(space=space, state=EncoderState.ACTIVE).exclude(pk=target.pk).update(
            state=EncoderState.RETIRED
        )
        target.state = EncoderState.ACTIVE
        target.activated_at = timezone.now()
        target.save(update_fields=["state", "activated_at"])
        return target


def image_vectors_write(
    *,
    space: str,
    encoder: str,
    image_ids: Sequence[int],
    product_ids: Sequence[int],
    image_versions: Sequence[int],
    vectors: np.ndarray,
) -> int:
    """Upsert one vector per image for (space, encoder) in a single statement; return rows written.

    A row is only replaced by one computed from the same or a newer image
    version, so a late, redelivered result can never overwrite newer vectors.
    Callers hold the images' row locks (see embeddings.pipeline), which keeps a
    concurrent delete from racing the foreign keys.
    """
    if not (len(image_ids) == len(product_ids) == len(image_versions) == len(vectors)):
        raise ValueError("image_ids, product_ids, image_versions and vectors must have the same length")
    if not image_ids:
        return 0
    table = ImageVector._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (image_id, product_id, space, encoder, embedding, image_version, created_at)
            SELECT t.image_id, t.product_id, %s, %s, t.embedding::halfvec, t.image_version, now()
            FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::int[])
                AS t(image_id, product_id, embedding, image_version)
            ON CONFLICT (image_id, space, encoder) DO UPDATE
                SET embedding = EXCLUDED.embedding, image_version = EXCLUDED.image_version,
                    created_at = EXCLUDED.created_at
                WHERE {table}.image_version <= EXCLUDED.image_version
            """,
            [
                space,
                encoder,
                list(image_ids),
                list(product_ids),
                vector_literals(vectors),
                list(image_versions),
            ],
        )
        return int(cursor.rowcount)


def product_vectors_recompute(*, product_ids: Sequence[int], spaces: Sequence[str] | None = None) -> None:
    """Set each product's vector, per (space, encoder), to the normalised mean of its done photos' vectors,
    blended with its text vector where the space blends in text (see multimodal_rows).

    Products left without a done photo in a (space, encoder) lose that vector.
    The product rows are locked first (FOR NO KEY UPDATE, in id order): two
    workers finishing photos of one product at once would otherwise each
    average without the other's uncommitted photo, and the later commit would
    win with a mean that misses a photo. With the lock the second waits, and
    under READ COMMITTED its next statement sees the first one's vectors. The
    means and words are read in one statement and written (upsert and delete of
    vectors left without a done photo) from what it read, in a second one.
    The lock does not block inserts that reference the product (they take KEY
    SHARE). Callers lock image rows before this, never after (one lock order).
    `spaces` limits the work to those spaces (new words change no visual vector).
    """
    ids = sorted(set(product_ids))
    chosen = list(spaces) if spaces is not None else list(Space.values)
    if not ids:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT id FROM catalog_product WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE", [ids])
        cursor.execute(
            f"""
            SELECT m.product_id, m.space, m.encoder, m.n, {halfvec_send_sql("m.mean")},
                   {halfvec_send_sql("t.embedding")}
            FROM (
                SELECT iv.product_id, iv.space, iv.encoder,
                       l2_normalize(avg(iv.embedding::vector))::halfvec AS mean, count(*) AS n
                FROM {ImageVector._meta.db_table} iv JOIN catalog_productimage pi ON pi.id = iv.image_id
                WHERE iv.product_id = ANY(%s) AND iv.space = ANY(%s) AND pi.embedding_status = 'done'
                GROUP BY iv.product_id, iv.space, iv.encoder
            ) m
            LEFT JOIN {ProductTextVector._meta.db_table} t
                ON t.product_id = m.product_id AND t.space = m.space AND t.encoder = m.encoder
            """,
            [ids, chosen],
        )
        rows = multimodal_rows(cursor.fetchall(), weight=settings.SEMANTIC_TEXT_WEIGHT)
        _product_vectors_replace(cursor, ids, chosen, rows)
        # The stored "more like this" lists follow the new vectors in this same transaction.
        for encoder in encoders_with_lists():
            if encoder.space in chosen:
                neighbour_lists_refresh(encoder=encoder, product_ids=ids)


@dataclass(frozen=True)
class ProductVectorRow:
    product_id: int
    space: str
    encoder: str
    image_count: int
    embedding: np.ndarray
    image_embedding: np.ndarray | None  # the photos' mean where `embedding` blends in words; else None


def multimodal_rows(rows: Sequence[tuple[Any, ...]], *, weight: float) -> list[ProductVectorRow]:
    """(product, space, encoder, photo count, mean, text vector or None) -> the vectors to store.

    In a space that blends in text, a product with a text vector of the same
    encoder gets blend(mean, text, weight) (embeddings.encoders.multimodal), and
    its photos' mean is kept beside it for search by photo. A product without
    one (its words not embedded yet, an image-only encoder, weight 0) and every
    other space store the mean alone, with image_embedding NULL.
    """
    out = []
    for product_id, space, encoder, count, mean_wire, text_wire in rows:
        mean = halfvec_from_wire(mean_wire)
        text = halfvec_from_wire(text_wire) if Space.blends_text(space) and weight > 0 else None
        assert mean is not None
        if text is None:
            out.append(ProductVectorRow(product_id, space, encoder, count, mean, None))
        else:
            out.append(
                ProductVectorRow(product_id, space, encoder, count, blend(mean[None], text[None], weight)[0], mean)
            )
    return out


def _product_vectors_replace(
    cursor: CursorWrapper, ids: list[int], spaces: list[str], rows: list[ProductVectorRow]
) -> None:
    """Upsert `rows` and delete the products' other vectors in `spaces` (no done photo left there): one statement."""
    table = ProductVector._meta.db_table
    cursor.execute(
        f"""
        WITH new AS (
            SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::int[], %s::text[], %s::text[])
                AS t(product_id, space, encoder, n, embedding, image_embedding)
        ), gone AS (
            DELETE FROM {table} pv WHERE pv.product_id = ANY(%s) AND pv.space = ANY(%s) AND NOT EXISTS (
                SELECT 1 FROM new WHERE new.product_id = pv.product_id AND new.space = pv.space
                    AND new.encoder = pv.encoder
            )
        )
        INSERT INTO {table} (product_id, space, encoder, embedding, image_embedding, image_count, updated_at)
        SELECT product_id, space, encoder, embedding::halfvec, image_embedding::halfvec, n, now() FROM new
        ON CONFLICT (product_id, space, encoder) DO UPDATE
            SET embedding = EXCLUDED.embedding, image_embedding = EXCLUDED.image_embedding,
                image_count = EXCLUDED.image_count, updated_at = EXCLUDED.updated_at
        """,
        [
            [row.product_id for row in rows],
            [row.space for row in rows],
            [row.encoder for row in rows],
            [row.image_count for row in rows],
            [vector_literal(row.embedding) for row in rows],  # of several encoders: not one matrix
            [None if row.image_embedding is None else vector_literal(row.image_embedding) for row in rows],
            ids,
            spaces,
        ],
    )


def product_text_vectors_write(
    *, space: str, encoder: str, product_ids: Sequence[int], text_versions: Sequence[int], vectors: np.ndarray
) -> int:
    """Upsert one text vector per product for (space, encoder) in a single statement; return rows written.

    A row is only replaced by one computed from the same or a newer text
    version, so a late, redelivered result never overwrites newer words. The
    caller recomputes the products' vectors in the same transaction.
    """
    if not (len(product_ids) == len(text_versions) == len(vectors)):
        raise ValueError("product_ids, text_versions and vectors must have the same length")
    if not product_ids:
        return 0
    table = ProductTextVector._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (product_id, space, encoder, embedding, text_version, created_at)
            SELECT t.product_id, %s, %s, t.embedding::halfvec, t.text_version, now()
            FROM unnest(%s::bigint[], %s::text[], %s::int[]) AS t(product_id, embedding, text_version)
            -- The product may be deleted since its words were read (the caller holds the rows' locks now).
            WHERE EXISTS (SELECT 1 FROM catalog_product p WHERE p.id = t.product_id)
            ON CONFLICT (product_id, space, encoder) DO UPDATE
                SET embedding = EXCLUDED.embedding, text_version = EXCLUDED.text_version,
                    created_at = EXCLUDED.created_at
                WHERE {table}.text_version <= EXCLUDED.text_version
            """,
            [
                space,
                encoder,
                list(product_ids),
                vector_literals(vectors),
                list(text_versions),
            ],
        )
        return int(cursor.rowcount)
