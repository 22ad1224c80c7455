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


# The largest picture an upload needs (its largest thumbnail): JPEGs decode at the smallest DCT scale
# that keeps both sides at least this large, 3-4x cheaper than full size; pHash bits were identical
# on the test photos (32x32 Lanczos from either), and every block is still decoded, so truncated and
# corrupt files fail as before.
WORKING_SIZE = max(THUMBNAIL_SIZES)


@dataclass(frozen=True)
class InspectedImage:
    """A fully decoded, upright upload and what we store about it."""

    image: Image.Image  # RGB, EXIF orientation applied; JPEGs at a reduced scale of at least WORKING_SIZE
    format: str  # one of ACCEPTED_FORMATS
    sha256: str  # of the uploaded bytes
    phash: int  # signed 64-bit, see perceptual_hash
    width: int  # of the upload as displayed (EXIF orientation applied), whatever the decoded scale
    height: int
    # The pHashes of the picture turned a quarter, a half and three quarters, and of the mirror
    # image of each of the four (orientation_hashes): a rotated or mirrored copy matches one of them.
    phash_turns: tuple[int, ...] = ()

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
        # bombs), then decodes every block so truncated and corrupt files fail here.
        image = decode_image(data, max_pixels=max_pixels, min_size=WORKING_SIZE)
    except ImageDecodeError as exc:
        message = str(exc)
        code = "image_too_large" if message.startswith("image too large") else "image_invalid"
        raise ImageRejected(code, f"The file is not a usable image: {message}.") from None
    image_format, (width, height) = _header(data, fallback=image.size)
    if image_format not in ACCEPTED_FORMATS:
        accepted = ", ".join(sorted(ACCEPTED_FORMATS))
        raise ImageRejected("image_unsupported_format", f"{image_format} images are not accepted; use {accepted}.")
    return InspectedImage(
        image=image,
        format=image_format,
        sha256=hashlib.sha256(data).hexdigest(),
        phash=perceptual_hash(image),
        width=width,
        height=height,
        phash_turns=orientation_hashes(image),
    )


# EXIF orientations that turn the picture a quarter: displayed width and height swap.
_QUARTER_TURNS = frozenset({5, 6, 7, 8})


def _header(data: bytes, *, fallback: tuple[int, int]) -> tuple[str | None, tuple[int, int]]:
    """The format and the displayed size from the header (called after decode_image registered the HEIF plugin)."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            if probe.getexif().get(0x0112) in _QUARTER_TURNS:
                width, height = height, width
            return probe.format, (width, height)
    except Exception:
        # Unrecognised or broken headers are reported by the full decode with its own words.
        return None, fallback


def _dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II matrix: `M @ x` is the DCT of the column vector x."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    matrix = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    matrix[0, :] = np.sqrt(1.0 / n)
    return matrix


_DCT32 = _dct_matrix(32)


def _grey32(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L").resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float64)


def _hash_of(pixels: np.ndarray) -> int:
    coefficients = _DCT32 @ pixels @ _DCT32.T
    low = coefficients[:8, :8]
    bits = (low > np.median(low)).flatten()
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return value - (1 << 64) if value >= 1 << 63 else value


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
    return _hash_of(_grey32(image))


def orientation_hashes(image: Image.Image) -> tuple[int, ...]:
    """The pHashes of the 7 other orientations of `image`: turned 90°, 180°, 270°, then the mirror of each of 4.

    Computed on the same 32x32 greyscale matrix as perceptual_hash, turned and
    mirrored (resizing commutes with quarter turns and mirroring), so a copy
    uploaded turned or mirrored has one of these within the bits of a plain copy
    (measured: 0-2 bits, against 26-32 for its plain pHash).
    """
    pixels = _grey32(image)
    turned = [np.rot90(pixels, quarter) for quarter in range(4)]
    variants = turned[1:] + [np.fliplr(matrix) for matrix in turned]
    return tuple(_hash_of(np.ascontiguousarray(matrix)) for matrix in variants)


def hamming_distance(a: int, b: int) -> int:
    """Number of differing bits between two signed 64-bit perceptual hashes."""
    return ((a ^ b) & ((1 << 64) - 1)).bit_count()


def _fitted(image: Image.Image, size: int) -> Image.Image:
    thumb = image.copy()
    thumb.thumbnail((size, size), Image.Resampling.LANCZOS)
    return thumb


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return out.getvalue()


def render_thumbnail(image: Image.Image, size: int) -> bytes:
    """JPEG bytes of `image` fitted within size x size (never upscaled)."""
    return _jpeg(_fitted(image, size))


def render_thumbnails(image: Image.Image) -> dict[int, bytes]:
    """Every THUMBNAIL_SIZES rendering, each smaller one made from the next larger (cheaper than from the upload)."""
    rendered: dict[int, bytes] = {}
    source = image
    for size in sorted(THUMBNAIL_SIZES, reverse=True):
        source = _fitted(source, size)
        rendered[size] = _jpeg(source)
    return rendered
