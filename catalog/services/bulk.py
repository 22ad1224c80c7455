"""The bulk path: many new products with one generated photo each, in a few statements.

For photos we made ourselves (the demo catalogue), so they are not decoded
again; files and thumbnails are written exactly as for an upload.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from catalog.imaging import InspectedImage
from catalog.models import EmbeddingStatus, Product, ProductImage
from catalog.services.files import image_files_delete, image_files_store
from embeddings.tasks import enqueue_embedding, enqueue_text_embedding


@dataclass(frozen=True)
class NewListing:
    product: Product  # unsaved
    photo: InspectedImage
    data: bytes


def products_with_photos_bulk_create(*, listings: Sequence[NewListing]) -> list[int]:
    """Create the products whose SKU is new, each with its photo, and enqueue the photos; return their ids.

    SKUs that already exist are skipped, so a re-run after an interruption
    resumes. Products and photos commit together (all of a chunk or none);
    files written for a chunk that fails are removed.
    """
    existing = set(
        Product.objects.filter(sku__in=[item.product.sku for item in listings]).values_list("sku", flat=True)
    )
    fresh = [item for item in listings if item.product.sku not in existing]
    if not fresh:
        return []
    now = timezone.now()
    images: list[ProductImage] = []
    written: list[str] = []
    try:
        for item in fresh:
            image = ProductImage(
                sha256=item.photo.sha256,
                phash=item.photo.phash,
                phash_turns=list(item.photo.phash_turns),
                width=item.photo.width,
                height=item.photo.height,
                position=0,
                embedding_status=EmbeddingStatus.PENDING,
                embedding_requested_at=now,
            )
            written += image_files_store(image=image, data=item.data, inspected=item.photo)
            images.append(image)
        with transaction.atomic():
            products = Product.objects.bulk_create([item.product for item in fresh])
            for product, image in zip(products, images, strict=True):
                image.product = product
            created = ProductImage.objects.bulk_create(images)
            ids = [image.pk for image in created]
            enqueue_embedding(ids)
            # Created dirty (the model's default): their words are embedded beside their photos.
            enqueue_text_embedding([product.pk for product in products])
    except BaseException:
        image_files_delete(written)
        raise
    return ids
