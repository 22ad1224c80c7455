"""Upload validation, perceptual hash and thumbnails: pure Pillow/numpy, no database.

Everything here runs in the web process before anything is stored, so a bad
upload is refused with a reason and leaves no row and no file behind.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from embeddings.encoders import ImageDecodeError, decode_image

# Formats we accept, as Pillow names them. pillow-heif registers HEIC as "HEIF";
# Pillow itself decodes AVIF. Anything else (BMP, TIFF, PSD, ICO...) is refused:
# shop fronts cannot show it and it is a larger attack surface.
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "AVIF", "HEIF"})
FILE_SUFFIXES = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "AVIF": ".avif", "HEIF": ".heic"}
THUMBNAIL_SIZES = (160, 480)
THUMBNAIL_QUALITY = 85


class ImageRejected(ValueError):
    """An upload that is not an image we accept; `code` is the API error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class InspectedImage:
    """A fully decoded, upright upload and what we store about it."""

    image: Image.Image  # RGB, EXIF orientation applied
    format: str  # one of ACCEPTED_FORMATS
    sha256: str  # of the uploaded bytes
    phash: int  # signed 64-bit, see perceptual_hash

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height

    @property
    def suffix(self) -> str:
        return FILE_SUFFIXES[self.format]


def inspect_image(data: bytes, *, max_bytes: int, max_pixels: int) -> InspectedImage:
    """Decode `data` completely (not just the header) or raise ImageRejected naming the problem.

    The byte limit is checked first (cheapest), then the pixel count before any
    pixel is decoded (decompression bombs), then a full decode so that truncated
    and corrupt files fail here and not in the worker, then the format.
    EXIF orientation is applied, so width/height are as displayed.
    """
    if not data:
        raise ImageRejected("image_empty", "The file is empty (0 bytes): not an image.")
    if len(data) > max_bytes:
        raise ImageRejected("image_too_large", f"The file is {len(data)} bytes; the limit is {max_bytes} bytes.")
    try:
        # decode_image checks the pixel count before decoding any pixel (decompression
        # bombs), then decodes everything so truncated and corrupt files fail here.
        image = decode_image(data, max_pixels=max_pixels)
    except ImageDecodeError as exc:
        message = str(exc)
        code = "image_too_large" if message.startswith("image too large") else "image_invalid"
        raise ImageRejected(code, f"The file is not a usable image: {message}.") from None
    image_format = _header_format(data)
    if image_format not in ACCEPTED_FORMATS:
        accepted = ", ".join(sorted(ACCEPTED_FORMATS))
        raise ImageRejected("image_unsupported_format", f"{image_format} images are not accepted; use {accepted}.")
    return InspectedImage(
        image=image,
        format=image_format,
        sha256=hashlib.sha256(data).hexdigest(),
        phash=perceptual_hash(image),
    )


def _header_format(data: bytes) -> str | None:
    """The format Pillow sees in the header (called after decode_image registered the HEIF plugin)."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            return probe.format
    except Exception:
        # Unrecognised or broken headers are reported by the full decode with its own words.
        return None


def _dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II matrix: `M @ x` is the DCT of the column vector x."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    matrix = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    matrix[0, :] = np.sqrt(1.0 / n)
    return matrix


_DCT32 = _dct_matrix(32)


def perceptual_hash(image: Image.Image) -> int:
    """64-bit DCT perceptual hash (pHash), returned as a signed 64-bit integer.

    Algorithm (the classic pHash, as in the `imagehash` library's `phash`):
    1. convert to 8-bit greyscale (ITU-R 601-2 luma) and resize to 32x32 with
       Lanczos resampling, ignoring the aspect ratio;
    2. take the orthonormal 2-D DCT-II of the 32x32 pixel matrix;
    3. keep the 8x8 block of lowest frequencies (top-left, DC term included);
    4. bit = 1 where the coefficient is strictly greater than the median of those 64;
    5. read the bits row by row, the first one as the most significant bit, and
       store the unsigned 64-bit value as two's-complement signed (PostgreSQL bigint).
    Near-identical pictures (re-encoded, resized, lightly edited) differ in few
    bits: compare with the Hamming distance, in SQL
    `bit_count((a # b)::bit(64))` or in Python `(a ^ b) & (2**64 - 1)).bit_count()`.
    """
    grey = image.convert("L").resize((32, 32), Image.Resampling.LANCZOS)
    pixels = np.asarray(grey, dtype=np.float64)
    coefficients = _DCT32 @ pixels @ _DCT32.T
    low = coefficients[:8, :8]
    bits = (low > np.median(low)).flatten()
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return value - (1 << 64) if value >= 1 << 63 else value


def hamming_distance(a: int, b: int) -> int:
    """Number of differing bits between two signed 64-bit perceptual hashes."""
    return ((a ^ b) & ((1 << 64) - 1)).bit_count()


def render_thumbnail(image: Image.Image, size: int) -> bytes:
    """JPEG bytes of `image` fitted within size x size (never upscaled)."""
    thumb = image.copy()
    thumb.thumbnail((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    thumb.convert("RGB").save(out, format="JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return out.getvalue()
