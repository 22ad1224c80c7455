"""Reads for duplicate listings: photos and their neighbours, photo digests, the review queue."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Prefetch, QuerySet

from catalog.models import ProductImage
from catalog.models.images import PHASH_CHUNKS
from embeddings.models import ImageVector, Space
from embeddings.selectors import ActiveEncoder, active_encoder
from embeddings.vector_indexes import knn_distance_sql
from recommender.duplicates.detection import Photo, listing_key
from recommender.duplicates.models import DuplicateGroup, DuplicateGroupMember
from recommender.duplicates.thresholds import Thresholds, thresholds_for

# HNSW candidate list for the per-upload k-NN: must be >= the LIMIT to return LIMIT rows.
EF_SEARCH_FLOOR = 40


def visual_encoder() -> ActiveEncoder | None:
    return active_encoder(Space.VISUAL)


def thresholds_for_encoder(encoder: ActiveEncoder) -> Thresholds:
    return thresholds_for(
        encoder.name,
        settings.DUPLICATES_THRESHOLDS,
        phash_max_distance=settings.DUPLICATES_PHASH_MAX_DISTANCE,
        phash_near_distance=settings.DUPLICATES_PHASH_NEAR_DISTANCE,
    )


@dataclass(frozen=True)
class PhotoToCheck:
    photo: Photo
    embedding: list[float]
    product_active: bool


def photo_to_check(*, image_id: int, encoder: ActiveEncoder) -> PhotoToCheck | None:
    """The photo with its current visual vector; None if either is gone or the vector is for an older version."""
    row = (
        ImageVector.objects.filter(image_id=image_id, space=Space.VISUAL, encoder=encoder.identity)
        .select_related("image", "product")
        .only(
            "embedding",
            "image_version",
            "image__sha256",
            "image__phash",
            "image__phash_turns",
            "image__version",
            "product__product_group",
            "product__is_active",
            "product__title",
            "product__brand",
        )
        .first()
    )
    if row is None or row.image_version != row.image.version:
        return None
    photo = Photo(
        image_id=image_id,
        product_id=row.product_id,
        product_group=row.product.product_group,
        sha256=row.image.sha256,
        phash=row.image.phash,
        phash_turns=tuple(row.image.phash_turns),
        listing=listing_key(row.product.title, row.product.brand),
    )
    return PhotoToCheck(photo=photo, embedding=_as_list(row.embedding), product_active=row.product.is_active)


def _as_list(embedding: Any) -> list[float]:
    # pgvector returns HalfVector objects or plain lists depending on how the value was loaded.
    return [float(x) for x in (embedding.to_list() if hasattr(embedding, "to_list") else embedding)]


_NEIGHBOURS_SQL = """
SELECT nn.image_id, nn.product_id, nn.similarity, pi.sha256, pi.phash, pi.phash_turns, p.product_group,
       p.title, p.brand
FROM (
    SELECT iv.image_id, iv.product_id, 1 - {distance} AS similarity
    FROM embeddings_imagevector iv
    WHERE iv.space = %s AND iv.encoder = %s
    ORDER BY {distance}
    LIMIT %s
) nn
JOIN catalog_productimage pi ON pi.id = nn.image_id
JOIN catalog_product p ON p.id = nn.product_id
WHERE p.is_active AND nn.product_id <> %s
"""


def photo_neighbours(*, check: PhotoToCheck, encoder: ActiveEncoder, limit: int) -> list[tuple[Photo, float]]:
    """The `limit` visually nearest photos (any product), filtered to other active products afterwards.

    The inner query is exactly the shape the partial HNSW index serves
    (same expression and predicate, ORDER BY <=> with LIMIT); the threshold
    and the filters are applied outside it, so the cost is bounded by LIMIT
    whatever the threshold (a threshold inside an iterative scan that nothing
    satisfies walks up to hnsw.max_scan_tuples rows).
    """
    distance = knn_distance_sql("iv", encoder.dim)
    vector = str(check.embedding)
    sql = _NEIGHBOURS_SQL.format(distance=distance)
    params: list[str | int] = [vector, encoder.space, encoder.identity, vector, limit, check.photo.product_id]
    # SET LOCAL only lasts inside a transaction; on an autocommit connection it would do nothing.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL hnsw.ef_search = %s", [max(EF_SEARCH_FLOOR, limit)])
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [(_photo(i, p, g, s, h, t, title, brand), float(sim)) for i, p, sim, s, h, t, g, title, brand in rows]


def _photo(
    image: int, product: int, group: str, sha: str, phash: int | None, turns: Any, title: str, brand: str
) -> Photo:
    return Photo(
        image_id=image,
        product_id=product,
        product_group=group,
        sha256=sha,
        phash=phash,
        phash_turns=tuple(turns or ()),
        listing=listing_key(title, brand),
    )


def same_bytes_photos(*, photo: Photo, limit: int) -> list[Photo]:
    """Photos of other active products with exactly these bytes (the sha256 index; no vector needed)."""
    rows = (
        ProductImage.objects.filter(sha256=photo.sha256, product__is_active=True)
        .exclude(product_id=photo.product_id)
        .values_list(
            "id",
            "product_id",
            "product__product_group",
            "sha256",
            "phash",
            "phash_turns",
            "product__title",
            "product__brand",
        )[:limit]
    )
    return [_photo(*row) for row in rows]


# Two hashes at most this many bits apart share a whole chunk (five chunks, pigeonhole).
PHASH_LOOKUP_MAX_BITS = len(PHASH_CHUNKS) - 1


def phash_chunk(value: int, shift: int, mask: int) -> int:
    # Python's >> on a negative int is arithmetic, as PostgreSQL's on bigint: the chunks agree.
    return (value >> shift) & mask


def _chunk_sql(shift: int, mask: int) -> str:
    """The indexed expression of catalog.models.images._phash_chunk, spelt as its index was created."""
    return f"((pi.phash >> {shift}) & {mask})" if shift else f"(pi.phash & {mask})"


_PHASH_SQL = """
SELECT pi.id, pi.product_id, p.product_group, pi.sha256, pi.phash, pi.phash_turns, p.title, p.brand,
       1 - (iv.embedding::halfvec({dim}) <=> %s::halfvec({dim})) AS similarity
FROM catalog_productimage pi
JOIN catalog_product p ON p.id = pi.product_id
LEFT JOIN embeddings_imagevector iv ON iv.image_id = pi.id AND iv.space = %s AND iv.encoder = %s
WHERE ({chunks}) AND p.is_active AND pi.product_id <> %s
  AND (SELECT min(bit_count((pi.phash # h)::bit(64))) FROM unnest(%s::bigint[]) AS h) <= %s
ORDER BY pi.id
LIMIT %s
"""


def phash_photos(
    *, check: PhotoToCheck, encoder: ActiveEncoder, max_bits: int, limit: int
) -> list[tuple[Photo, float]]:
    """Photos of other active products whose pHash is within `max_bits` of this photo's in any orientation.

    What the visual k-NN cannot be trusted to find: a turned copy sits far from
    its original in a CNN's space (similarity 0.5-0.7), and a greyscale one may
    lie beyond the nearest few of a catalogue full of look-alikes. Each chunk
    of each of the photo's eight hashes is one probe of that chunk's index
    (catalog.models.images); the bit count then keeps the true matches. The
    visual similarity comes with each (0 for a photo not embedded yet).
    """
    if check.photo.phash is None:
        return []
    hashes = [check.photo.phash, *check.photo.phash_turns]
    bits = min(max_bits, PHASH_LOOKUP_MAX_BITS)
    chunks = " OR ".join(f"{_chunk_sql(shift, mask)} = ANY(%s)" for shift, mask in PHASH_CHUNKS)
    params: list[Any] = [str(check.embedding), encoder.space, encoder.identity]
    params += [sorted({phash_chunk(value, shift, mask) for value in hashes}) for shift, mask in PHASH_CHUNKS]
    params += [check.photo.product_id, hashes, bits, limit]
    with connection.cursor() as cursor:
        cursor.execute(_PHASH_SQL.format(dim=encoder.dim, chunks=chunks), params)
        rows = cursor.fetchall()
    return [
        (_photo(i, p, g, s, h, t, title, brand), 0.0 if similarity is None else float(similarity))
        for i, p, g, s, h, t, title, brand, similarity in rows
    ]


def product_photo_digests(product_ids: Iterable[int]) -> dict[int, str]:
    """Per product: sha256 over its photos' sorted sha256s. Changes when any photo's bytes change."""
    hashes: dict[int, list[str]] = defaultdict(list)
    for product_id, sha in ProductImage.objects.filter(product_id__in=set(product_ids)).values_list(
        "product_id", "sha256"
    ):
        hashes[product_id].append(sha)
    return {pid: hashlib.sha256(",".join(sorted(shas)).encode()).hexdigest() for pid, shas in hashes.items()}


def duplicate_groups_queue(
    *, tier: str | None = None, status: str | None = None, category_id: int | None = None
) -> QuerySet[DuplicateGroup]:
    """Groups for review, strongest first, with everything the review page shows prefetched."""
    groups = DuplicateGroup.objects.all()
    if tier:
        groups = groups.filter(tier=tier)
    if status:
        groups = groups.filter(status=status)
    if category_id is not None:
        groups = groups.filter(category_id=category_id)
    # "exact" < "near_duplicate" < "similar" as strings: the strongest tier comes first.
    ordered = groups.order_by("tier", "-score", "id")
    return ordered.select_related("category", "decided_by").prefetch_related(group_members_prefetch())


def group_members_prefetch() -> Prefetch:
    members = DuplicateGroupMember.objects.select_related("product__category", "image", "representative_image")
    return Prefetch("members", queryset=members)


def duplicate_group_get(group_id: int) -> DuplicateGroup | None:
    return duplicate_groups_queue().filter(pk=group_id).first()
