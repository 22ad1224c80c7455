"""Each kind of upload gets its documented outcome: an upright RGB image or one ImageDecodeError."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from embeddings.encoders import ImageDecodeError, decode_image
from tests.embeddings.encoders.conftest import jpeg_bytes


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def test_it_rejects_zero_bytes() -> None:
    with pytest.raises(ImageDecodeError, match="empty file"):
        decode_image(b"")


def test_it_rejects_a_text_file_renamed_jpg() -> None:
    with pytest.raises(ImageDecodeError, match="not an image"):
        decode_image(b"name,price\nshoe,49.90\n")


def test_it_rejects_a_truncated_jpeg(chelsea: Image.Image) -> None:
    data = jpeg_bytes(chelsea)
    with pytest.raises(ImageDecodeError, match="truncated image"):
        decode_image(data[: len(data) // 2])


def test_it_rejects_an_image_over_the_pixel_limit() -> None:
    data = encoded(Image.new("RGB", (100, 100)), "PNG")
    with pytest.raises(ImageDecodeError, match=r"image too large: 10000 pixels > limit 1000"):
        decode_image(data, max_pixels=1000)


def test_it_converts_cmyk_jpeg_to_rgb() -> None:
    red_in_cmyk = Image.new("CMYK", (32, 32), (0, 255, 255, 0))
    image = decode_image(encoded(red_in_cmyk, "JPEG", quality=95))
    assert image.mode == "RGB"
    red, green, blue = image.getpixel((16, 16))  # type: ignore[misc]
    assert red > 200 and green < 50 and blue < 50


def test_it_scales_16_bit_png_to_8_bit() -> None:
    ramp = np.tile(np.array([0, 32768, 65535], dtype=np.uint16), (4, 1))
    image = decode_image(encoded(Image.fromarray(ramp), "PNG"))
    assert image.mode == "RGB"
    assert [image.getpixel((x, 0)) for x in range(3)] == [(0, 0, 0), (128, 128, 128), (255, 255, 255)]


def test_it_puts_transparent_palette_pixels_on_white() -> None:
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 6))
    palette.paste(1, (0, 0, 4, 8))  # left half: palette entry 1 (blue), made transparent below
    image = decode_image(encoded(palette, "PNG", transparency=1))
    assert image.mode == "RGB"
    assert image.getpixel((1, 1)) == (255, 255, 255)
    assert image.getpixel((6, 6)) == (255, 0, 0)


def test_it_composites_rgba_and_la_on_white() -> None:
    rgba = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    la = Image.new("LA", (4, 4), (0, 255))
    assert decode_image(encoded(rgba, "PNG")).getpixel((0, 0)) == (255, 255, 255)
    assert decode_image(encoded(la, "PNG")).getpixel((0, 0)) == (0, 0, 0)


def test_it_turns_greyscale_and_bilevel_into_rgb() -> None:
    for mode, value, expected in (("L", 90, (90, 90, 90)), ("1", 1, (255, 255, 255))):
        image = decode_image(encoded(Image.new(mode, (4, 4), value), "PNG"))
        assert image.mode == "RGB"
        assert image.getpixel((0, 0)) == expected


def test_it_applies_exif_orientation() -> None:
    # Stored landscape, left half red and right half blue, tagged "rotate 90 CW to display".
    stored = Image.new("RGB", (40, 20), (255, 0, 0))
    stored.paste((0, 0, 255), (20, 0, 40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    image = decode_image(encoded(stored, "JPEG", quality=95, exif=exif.tobytes()))
    assert image.size == (20, 40)
    top, bottom = image.getpixel((10, 5)), image.getpixel((10, 35))
    assert top[0] > 200 and top[2] < 50  # type: ignore[index]
    assert bottom[2] > 200 and bottom[0] < 50  # type: ignore[index]


def test_it_takes_the_first_frame_of_an_animated_gif() -> None:
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert decode_image(data).getpixel((4, 4)) == (255, 0, 0)


def test_it_decodes_heic() -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    image = decode_image(encoded(Image.new("RGB", (64, 48), (200, 10, 10)), "HEIF"))
    assert image.size == (64, 48)
    assert image.mode == "RGB"


def test_it_decodes_large_jpegs_at_reduced_size_but_never_below_min_size(chelsea: Image.Image) -> None:
    big = chelsea.resize((1800, 1200))
    image = decode_image(jpeg_bytes(big), min_size=256)
    assert min(image.size) >= 256
    assert image.size == (450, 300)  # libjpeg scaled by 1/4, the largest step that keeps 256 px
    assert decode_image(jpeg_bytes(big)).size == (1800, 1200)
