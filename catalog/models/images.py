from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.expressions import CombinedExpression

from catalog.models.products import Product

# The pHash read as five chunks of 13 bits (the last of 12), each with an index of its own: two
# hashes at most 4 bits apart agree on at least one whole chunk (pigeonhole), so "photos within 4
# bits of this hash, in any orientation" is a few index probes instead of a scan
# (recommender.duplicates.selectors.phash_photos). (shift, mask) per chunk.
PHASH_CHUNKS = ((51, 0x1FFF), (38, 0x1FFF), (25, 0x1FFF), (12, 0x1FFF), (0, 0xFFF))


def _phash_chunk(shift: int, mask: int) -> CombinedExpression:
    return models.F("phash").bitrightshift(shift).bitand(mask) if shift else models.F("phash").bitand(mask)


class EmbeddingStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


def image_upload_path(instance: ProductImage, filename: str) -> str:
    # Content-addressed: the same bytes always land at the same path.
    return f"products/{instance.sha256[:2]}/{instance.sha256}{_suffix(filename)}"


def _suffix(filename: str) -> str:
    dot = filename.rfind(".")
    return filename[dot:].lower() if dot != -1 and len(filename) - dot <= 6 else ""


class ProductImage(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    file = models.FileField(upload_to=image_upload_path, max_length=300)
    sha256 = models.CharField(max_length=64)
    # 64-bit perceptual hash (DCT pHash) of the decoded image, stored signed.
    phash = models.BigIntegerField(null=True, blank=True)
    # pHashes of the photo's 7 other orientations (catalog.imaging.orientation_hashes); empty for
    # photos stored before they were kept: a turned copy of one is still found through the other photo's.
    # db_default as well: rows written by raw SQL or COPY that predate the column (bulk loaders, the
    # legacy-layout fixture) would otherwise break its NOT NULL.
    phash_turns = ArrayField(models.BigIntegerField(), default=list, db_default=[], blank=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    # Where an import took the photo from (path or URL); lets a re-run skip what is done.
    source = models.CharField(max_length=1000, blank=True, default="")
    # The lowest position is the primary photo.
    position = models.PositiveSmallIntegerField(default=0)
    # Pre-rendered thumbnails: {"160": "thumbs/…jpg", "480": "…"} relative to MEDIA_ROOT.
    thumbnails = models.JSONField(default=dict, blank=True)
    embedding_status = models.CharField(
        max_length=16, choices=EmbeddingStatus.choices, default=EmbeddingStatus.PENDING, db_index=True
    )
    embedding_error = models.TextField(blank=True)
    # Set when the image is (re-)queued; the sweeper re-enqueues rows pending too long.
    embedding_requested_at = models.DateTimeField(null=True, blank=True)
    embedded_at = models.DateTimeField(null=True, blank=True)
    # Bumped whenever the bytes to embed change, so a late worker result for an
    # older version can be recognised and dropped.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["product_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["product", "sha256"], name="image_unique_bytes_per_product"),
        ]
        indexes = [
            models.Index(
                fields=["embedding_requested_at"],
                name="image_pending_since",
                condition=models.Q(embedding_status="pending"),
            ),
            models.Index(fields=["sha256"], name="image_sha256"),
            models.Index(fields=["phash"], name="image_phash"),
            *(models.Index(_phash_chunk(*chunk), name=f"image_phash_chunk_{chunk[0]}") for chunk in PHASH_CHUNKS),
        ]

    def __str__(self) -> str:
        return f"image {self.pk} of product {self.product_id}"
