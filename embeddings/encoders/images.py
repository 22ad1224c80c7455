"""Uploaded bytes -> one RGB PIL image, or an ImageDecodeError a client can read.

Pillow only: this module is imported by the web process to validate uploads.
"""

from __future__ import annotations

import io
import threading
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from embeddings.encoders.errors import ImageDecodeError

DEFAULT_MAX_PIXELS = 40_000_000

_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
# 16-bit greyscale (PNG, TIFF) arrives as one of these; "I" is 32-bit but PNG uses it for 16-bit data.
_WIDE_INT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})

_heif_lock = threading.Lock()
_heif_registered = False


def _register_heif() -> None:
    """Teach Pillow HEIC/AVIF (iPhone uploads) once, when pillow-heif is installed."""
    global _heif_registered
    with _heif_lock:
        if _heif_registered:
            return
        _heif_registered = True
        try:
            import pillow_heif
        except ImportError:
            return
        pillow_heif.register_heif_opener()
        # Older pillow-heif versions also decode AVIF; newer Pillow does it natively.
        register_avif = getattr(pillow_heif, "register_avif_opener", None)
        if register_avif is not None:
            register_avif()


def decode_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, min_size: int | None = None) -> Image.Image:
    """Decode ``data`` into an upright RGB image, fully loaded.

    ``min_size`` lets JPEGs decode at a reduced scale (libjpeg DCT scaling, up to 8x
    cheaper) while keeping both sides at least that many pixels: encoders pass the
    size they resize to, so the result is the same picture at a fraction of the cost.
    """
    if not data:
        raise ImageDecodeError("empty file: not an image")
    _register_heif()
    try:
        with warnings.catch_warnings():
            # We enforce our own, lower limit below; Pillow's warning would only be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(f"image too large: {exc}") from None
    except UnidentifiedImageError:
        raise ImageDecodeError("not an image: format not recognised") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageDecodeError(f"corrupt image: {exc}") from None

    pixels = image.width * image.height
    if pixels > max_pixels:
        raise ImageDecodeError(f"image too large: {pixels} pixels > limit {max_pixels}")
    if getattr(image, "is_animated", False):
        image.seek(0)
    if min_size is not None and image.format == "JPEG":
        image.draft("RGB", (min_size, min_size))
    try:
        # Decode now: a truncated file must fail here, not later inside a batch.
        image.load()
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        if "truncated" in str(exc):
            raise ImageDecodeError("truncated image") from None
        raise ImageDecodeError(f"corrupt image: {exc}") from None
    try:
        upright = ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError, KeyError, TypeError):
        upright = image  # A broken EXIF block should not cost the customer the whole image.
    return to_rgb(upright)


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB the same way every time (white behind transparency)."""
    if image.mode == "RGB" and "transparency" not in image.info:
        return image
    if image.mode in _WIDE_INT_MODES:
        # Scale the full 16-bit range to 8 bits rather than clipping, which would turn photos white.
        wide = np.asarray(image, dtype=np.float32)
        narrow = np.clip(np.rint(wide / 257.0), 0, 255).astype(np.uint8)
        return Image.fromarray(narrow).convert("RGB")
    if image.mode == "F":
        narrow = np.clip(np.rint(np.asarray(image, dtype=np.float32)), 0, 255).astype(np.uint8)
        return Image.fromarray(narrow).convert("RGB")
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        # Product shots with transparent backgrounds sit on white in every shop front.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    # 1, L, P, CMYK, YCbCr, LAB, HSV: Pillow's own conversions are deterministic.
    return image.convert("RGB")
