"""Photo writes: validated upload, de-duplication by bytes, delete, re-embed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone

from catalog.imaging import inspect_image
from catalog.models import EmbeddingStatus, Product, ProductImage
from catalog.services.files import image_file_names, image_files_delete, image_files_store
from embeddings.services import product_vectors_recompute
from embeddings.tasks import enqueue_embedding


@dataclass(frozen=True)
class ImageAdded:
    image: ProductImage
    created: bool  # False: these bytes were already a photo of this product


def product_image_add(
    *,
    product: Product,
    data: bytes,
    source: str = "",
    position: int | None = None,
    enqueue: bool = True,
) -> ImageAdded:
    """Validate `data` as an image and add it to `product`, pending embedding.

    Raises catalog.imaging.ImageRejected, with nothing stored, when it is not an
    image we accept. The same bytes twice for one product give one photo: the
    existing one comes back with created=False. `enqueue=False` lets bulk loaders
    enqueue many photos in a few messages themselves (embeddings.tasks.enqueue_embedding).
    """
    inspected = inspect_image(data, max_bytes=settings.IMAGE_MAX_BYTES, max_pixels=settings.IMAGE_MAX_PIXELS)
    existing = ProductImage.objects.filter(product=product, sha256=inspected.sha256).first()
    if existing is not None:
        return ImageAdded(image=existing, created=False)
    if position is None:
        # Two concurrent uploads may get the same position; ordering falls back to id, which is harmless.
        highest = ProductImage.objects.filter(product=product).aggregate(top=Max("position"))["top"]
        position = 0 if highest is None else highest + 1
    image = ProductImage(
        product=product,
        sha256=inspected.sha256,
        phash=inspected.phash,
        phash_turns=list(inspected.phash_turns),
        width=inspected.width,
        height=inspected.height,
        position=position,
        source=source,
        embedding_status=EmbeddingStatus.PENDING,
        embedding_requested_at=timezone.now(),
    )
    written = image_files_store(image=image, data=data, inspected=inspected)
    try:
        # The unique (product, sha256) constraint, not the check above, is what
        # makes concurrent uploads of the same bytes end as one row: the loser's
        # INSERT waits for the winner's commit, fails, and returns the winner's row.
        image.full_clean(validate_constraints=False)
        with transaction.atomic():
            image.save()
    except IntegrityError:
        image_files_delete(written)
        winner = ProductImage.objects.filter(product=product, sha256=inspected.sha256).first()
        if winner is None:
            raise
        return ImageAdded(image=winner, created=False)
    except BaseException:
        image_files_delete(written)
        raise
    if enqueue:
        enqueue_embedding([image.pk])
    return ImageAdded(image=image, created=True)


def product_image_delete(*, image: ProductImage) -> None:
    """Delete a photo and its vectors, recompute its product's vectors; its files go after commit."""
    with transaction.atomic():
        # Lock the photo first (waits for a worker embedding it right now), then
        # product_vectors_recompute locks the product: the pipeline's lock order.
        locked = ProductImage.objects.select_for_update().filter(pk=image.pk).first()
        if locked is None:
            return  # Deleted meanwhile: nothing left to do.
        names = image_file_names(locked)
        product_id = locked.product_id
        locked.delete()
        product_vectors_recompute(product_ids=[product_id])
        transaction.on_commit(lambda: image_files_delete(names))


def product_images_request_embedding(*, image_ids: Sequence[int]) -> int:
    """Queue photos for (re-)embedding, e.g. after a failure was fixed; return how many.

    Bumping `version` makes vectors from any embedding still in flight for the
    old request recognisably older (the pipeline never writes an older version
    over a newer one).
    """
    with transaction.atomic():
        count = ProductImage.objects.filter(pk__in=list(image_ids)).update(
            embedding_status=EmbeddingStatus.PENDING,
            embedding_error="",
            embedding_requested_at=timezone.now(),
            version=F("version") + 1,
        )
        enqueue_embedding(list(image_ids))
    return count
