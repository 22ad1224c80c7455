"""Photo files in storage: the original and its thumbnails, written once at upload."""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Iterable

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from catalog.imaging import THUMBNAIL_SIZES, InspectedImage, render_thumbnail
from catalog.models import ProductImage

logger = logging.getLogger(__name__)


def image_files_store(*, image: ProductImage, data: bytes, inspected: InspectedImage) -> list[str]:
    """Save the original (content-addressed path) and its JPEG thumbnails; return every name written.

    The storage picks a free name when two uploads of the same bytes race, so a
    file is never shared between two rows and deleting one row's files is safe.
    Thumbnail names derive from the original's stored name for the same reason.
    """
    written: list[str] = []
    try:
        image.file.save(f"upload{inspected.suffix}", ContentFile(data), save=False)
        written.append(image.file.name)
        stem = posixpath.splitext(posixpath.basename(image.file.name))[0]
        thumbnails: dict[str, str] = {}
        for size in THUMBNAIL_SIZES:
            name = default_storage.save(
                f"thumbs/{inspected.sha256[:2]}/{stem}_{size}.jpg", ContentFile(render_thumbnail(inspected.image, size))
            )
            written.append(name)
            thumbnails[str(size)] = name
    except BaseException:
        image_files_delete(written)
        raise
    image.thumbnails = thumbnails
    return written


def image_file_names(image: ProductImage) -> list[str]:
    return [name for name in [image.file.name, *(image.thumbnails or {}).values()] if name]


def image_files_delete(names: Iterable[str]) -> None:
    """Delete stored files; a file already gone is not an error (deletes are retried and may race)."""
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not delete stored file %s", name, exc_info=True)
