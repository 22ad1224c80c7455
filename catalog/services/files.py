"""Photo files in storage: the original and its thumbnails, written once at upload."""

from __future__ import annotations

import errno
import logging
import secrets
from collections.abc import Iterable

from botocore.exceptions import BotoCoreError, ClientError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from catalog.imaging import THUMBNAIL_SIZES, InspectedImage, render_thumbnails
from catalog.models import ProductImage

logger = logging.getLogger(__name__)

_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
# What a storage backend raises when it refuses: the disk's OSError, an S3 bucket's ClientError
# (AccessDenied, NoSuchBucket, SlowDown...), botocore's own errors (endpoint unreachable, timeouts).
STORAGE_ERRORS: tuple[type[Exception], ...] = (OSError, BotoCoreError, ClientError)
# Error codes of S3-compatible servers that mean "no room left" (MinIO's; AWS buckets have no quota).
_S3_FULL = {"XMinioStorageFull", "QuotaExceeded"}


class StorageUnavailable(Exception):
    """Storage refused the photo's files (full, read-only, unreachable); nothing of the photo was kept."""

    def __init__(self, code: str, message: str, *, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status  # 507 when storage is full, 503 otherwise


def _unavailable(exc: Exception) -> StorageUnavailable:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "")) or "ClientError"
        reason = f"{code}: {error.get('Message', '')}".rstrip(": ")
        full = code in _S3_FULL
    elif isinstance(exc, OSError):
        reason = exc.strerror or type(exc).__name__
        full = exc.errno in _FULL
    else:  # botocore's own (EndpointConnectionError, timeouts): the name, not the internal endpoint URL
        reason = type(exc).__name__
        full = False
    if full:
        return StorageUnavailable(
            "storage_full", "Photo storage is full; nothing was stored. Try again later.", status=507
        )
    logger.warning("photo storage refused a write: %s", reason, exc_info=exc)
    return StorageUnavailable(
        "storage_unavailable", f"Photo storage refused the file ({reason}); nothing was stored.", status=503
    )


def image_files_store(*, image: ProductImage, data: bytes, inspected: InspectedImage) -> list[str]:
    """Save the original and its JPEG thumbnails; return every name written.

    Names are content-addressed plus a token of this upload's own
    (`products/ab/<sha256>_<token>.jpg`, `thumbs/ab/<sha256>_<token>_160.jpg`):
    two uploads of the same bytes racing never share a file, so deleting one
    row's files is safe, and a write that fails half-way leaves a file whose
    name is known and only ours, which is removed. Raises StorageUnavailable,
    with nothing left behind, when storage refuses a write (full, read-only, a bucket
    that refuses or cannot be reached).
    """
    stem = f"{inspected.sha256}_{secrets.token_hex(4)}"
    planned = [(f"products/{inspected.sha256[:2]}/{stem}{inspected.suffix}", data)]
    thumbnails = render_thumbnails(inspected.image)
    planned += [(f"thumbs/{inspected.sha256[:2]}/{stem}_{size}.jpg", thumbnails[size]) for size in THUMBNAIL_SIZES]
    written: list[str] = []
    try:
        for name, content in planned:
            written.append(name)  # before the write: a half-written file goes too
            written[-1] = default_storage.save(name, ContentFile(content))
    except STORAGE_ERRORS as exc:
        image_files_delete(written)
        raise _unavailable(exc) from exc
    except BaseException:
        image_files_delete(written)
        raise
    image.file.name = written[0]
    image.thumbnails = {str(size): name for size, name in zip(THUMBNAIL_SIZES, written[1:], strict=True)}
    return written


def image_file_names(image: ProductImage) -> list[str]:
    return [name for name in [image.file.name, *(image.thumbnails or {}).values()] if name]


def image_files_delete(names: Iterable[str]) -> None:
    """Delete stored files; a file already gone is not an error (deletes are retried and may race)."""
    for name in names:
        try:
            default_storage.delete(name)
        except STORAGE_ERRORS:
            logger.warning("could not delete stored file %s", name, exc_info=True)
