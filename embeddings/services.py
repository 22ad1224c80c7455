"""Writes about vector spaces: registering an encoder for a space, image and product vectors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from embeddings.models import EncoderState, ImageVector, ProductVector, SpaceEncoder
from embeddings.neighbours import neighbour_lists_refresh
from embeddings.selectors import encoders_with_lists
from embeddings.vector_codec import vector_literal
from embeddings.vector_indexes import ensure_hnsw_index


def space_encoder_register(*, space: str, identity: str, dim: int) -> SpaceEncoder:
    """Record that `identity` writes vectors into `space`, and give it its HNSW indexes.

    The first encoder of a space becomes active at once (nothing to backfill).
    A later one starts `backfilling`: `embed_backfill --activate` switches the
    space over when every product has a vector, so queries never mix encoders.
    """
    ensure_hnsw_index(kind="product", space=space, encoder=identity, dim=dim)
    ensure_hnsw_index(kind="image", space=space, encoder=identity, dim=dim)
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
                [vector_literal(row) for row in np.asarray(vectors, dtype=np.float32).tolist()],
                list(image_versions),
            ],
        )
        return int(cursor.rowcount)


def product_vectors_recompute(*, product_ids: Sequence[int]) -> None:
    """Set each product's vector, per (space, encoder), to the normalised mean of its done photos' vectors.

    Products left without a done photo in a (space, encoder) lose that vector.
    The product rows are locked first (FOR NO KEY UPDATE, in id order): two
    workers finishing photos of one product at once would otherwise each
    average without the other's uncommitted photo, and the later commit would
    win with a mean that misses a photo. With the lock the second waits, and
    under READ COMMITTED its next statement sees the first one's vectors.
    The lock does not block inserts that reference the product (they take KEY
    SHARE). Callers lock image rows before this, never after (one lock order).
    """
    ids = sorted(set(product_ids))
    if not ids:
        return
    image_vectors = ImageVector._meta.db_table
    product_vectors = ProductVector._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT id FROM catalog_product WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE", [ids])
        # One statement: the DELETE (vectors with no done photo left) and the upsert
        # touch disjoint rows and both read the same snapshot of `means`.
        cursor.execute(
            f"""
            WITH means AS (
                SELECT iv.product_id, iv.space, iv.encoder,
                       l2_normalize(avg(iv.embedding::vector))::halfvec AS mean, count(*) AS n
                FROM {image_vectors} iv JOIN catalog_productimage pi ON pi.id = iv.image_id
                WHERE iv.product_id = ANY(%s) AND pi.embedding_status = 'done'
                GROUP BY iv.product_id, iv.space, iv.encoder
            ), gone AS (
                DELETE FROM {product_vectors} pv WHERE pv.product_id = ANY(%s) AND NOT EXISTS (
                    SELECT 1 FROM means m
                    WHERE m.product_id = pv.product_id AND m.space = pv.space AND m.encoder = pv.encoder
                )
            )
            INSERT INTO {product_vectors} (product_id, space, encoder, embedding, image_count, updated_at)
            SELECT product_id, space, encoder, mean, n, now() FROM means
            ON CONFLICT (product_id, space, encoder) DO UPDATE
                SET embedding = EXCLUDED.embedding, image_count = EXCLUDED.image_count,
                    updated_at = EXCLUDED.updated_at
            """,
            [ids, ids],
        )
        # The stored "more like this" lists follow the new vectors in this same transaction.
        for encoder in encoders_with_lists():
            neighbour_lists_refresh(encoder=encoder, product_ids=ids)
