"""catalog.imaging: what each kind of upload becomes, without a database."""

from __future__ import annotations

import io

import pytest
import skimage.data
from PIL import Image, ImageFilter

from catalog.imaging import (
    ImageRejected,
    hamming_distance,
    inspect_image,
    orientation_hashes,
    perceptual_hash,
    render_thumbnail,
)
from embeddings.encoders import decode_image
from tests.catalog import factories

LIMITS = {"max_bytes": 5 * 1024 * 1024, "max_pixels": 4_000_000}


def rejected(data: bytes, **limits: int) -> ImageRejected:
    with pytest.raises(ImageRejected) as caught:
        inspect_image(data, **{**LIMITS, **limits})
    return caught.value


@pytest.mark.parametrize(
    ("name", "data", "code", "words"),
    [
        ("zero-byte", b"", "image_empty", "empty"),
        ("text renamed as .jpg", b"just some text, saved as photo.jpg\n" * 10, "image_invalid", "not recognised"),
        ("corrupt", b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8, "image_invalid", "not a usable image"),
        ("truncated", factories.jpeg(1, (400, 300))[:1500], "image_invalid", "truncated"),
        ("decompression bomb", factories.decompression_bomb(), "image_too_large", "pixels"),
        ("BMP", factories.encode(factories.photo(2), "BMP"), "image_unsupported_format", "BMP"),
    ],
)
def test_it_rejects_bad_input_naming_the_problem(name: str, data: bytes, code: str, words: str) -> None:
    problem = rejected(data)
    assert problem.code == code, name
    assert words in problem.message, problem.message


def test_it_rejects_a_file_over_the_byte_limit_before_decoding() -> None:
    problem = rejected(factories.jpeg(1, (300, 300)), max_bytes=2048)
    assert problem.code == "image_too_large"
    assert "limit is 2048 bytes" in problem.message


@pytest.mark.parametrize(
    ("fmt", "options"),
    [("JPEG", {}), ("PNG", {}), ("WEBP", {}), ("GIF", {}), ("AVIF", {}), ("HEIF", {})],
)
def test_it_accepts_every_documented_format(fmt: str, options: dict[str, object]) -> None:
    data = factories.encode(factories.photo(4, (80, 60)), fmt, **options)
    inspected = inspect_image(data, **LIMITS)
    assert (inspected.format, inspected.width, inspected.height, inspected.image.mode) == (fmt, 80, 60, "RGB")


def test_an_animated_gif_is_its_first_frame() -> None:
    frames = [Image.new("RGB", (40, 30), colour) for colour in [(250, 0, 0), (0, 0, 250)]]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    inspected = inspect_image(buffer.getvalue(), **LIMITS)
    red, _, blue = inspected.image.getpixel((20, 15))  # type: ignore[misc]
    assert red > 200 and blue < 50


def test_exif_orientation_is_applied_so_width_and_height_are_as_displayed() -> None:
    inspected = inspect_image(factories.exif_rotated_jpeg((120, 40)), **LIMITS)
    assert (inspected.width, inspected.height) == (40, 120)


def test_cmyk_and_16_bit_png_decode_to_rgb_with_their_content() -> None:
    cmyk = inspect_image(factories.cmyk_jpeg(), **LIMITS)
    wide = inspect_image(factories.png16(), **LIMITS)
    assert cmyk.image.mode == wide.image.mode == "RGB"
    # 16-bit values are scaled to 8 bits, not clipped to white: a gradient stays a gradient.
    first, last = wide.image.getpixel((0, 0)), wide.image.getpixel((63, 47))
    assert first[0] < 10 and last[0] > 245  # type: ignore[index]


def test_the_perceptual_hash_is_stable_under_resizing_and_differs_between_pictures() -> None:
    original = factories.photo(11, (256, 192))
    resized = original.resize((128, 96)).filter(ImageFilter.GaussianBlur(0.5))
    other = factories.photo(12, (256, 192))
    assert hamming_distance(perceptual_hash(original), perceptual_hash(resized)) <= 6
    assert hamming_distance(perceptual_hash(original), perceptual_hash(other)) >= 16


def test_the_perceptual_hash_fits_a_signed_bigint() -> None:
    hashes = [perceptual_hash(factories.photo(seed)) for seed in range(20)]
    assert all(-(2**63) <= value < 2**63 for value in hashes)
    assert any(value < 0 for value in hashes), "the top bit is set for some pictures and stored negative"


def test_thumbnails_fit_the_size_and_never_upscale() -> None:
    large = Image.open(io.BytesIO(render_thumbnail(factories.photo(1, (900, 300)), 160)))
    small = Image.open(io.BytesIO(render_thumbnail(factories.photo(1, (90, 30)), 160)))
    assert (large.format, large.size) == ("JPEG", (160, 53))
    assert small.size == (90, 30)


def test_a_large_jpeg_is_inspected_at_a_reduced_scale_yet_reports_its_real_size_and_the_same_phash() -> None:
    # Given a 1600 x 1200 photograph taken sideways (EXIF orientation 6: displayed 1200 x 1600)
    photo = Image.fromarray(skimage.data.astronaut()).resize((1600, 1200), Image.Resampling.BICUBIC)
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    photo.save(out, format="JPEG", quality=90, exif=exif)

    inspected = inspect_image(out.getvalue(), max_bytes=10**8, max_pixels=10**8)

    # Then the stored size is the displayed one, the picture kept is just large enough for thumbnails,
    assert (inspected.width, inspected.height) == (1200, 1600)
    assert min(inspected.image.size) >= 480 and inspected.image.width < 1200
    # and the perceptual hash is the one of the full-size decode (duplicates compare it across uploads;
    # on real photographs the bits agree, measured: 0 of 64 over scikit-image's and scikit-learn's at 3 sizes)
    full = decode_image(out.getvalue())
    assert hamming_distance(inspected.phash, perceptual_hash(full)) <= 1


def jpeg_of(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


# PIL's transposes in the order orientation_hashes returns their hashes: turned 90°, 180°, 270°
# (counter-clockwise, as np.rot90), then the mirror image of the upright, 90°, 180° and 270° pictures.
ORIENTATIONS = [
    Image.Transpose.ROTATE_90,
    Image.Transpose.ROTATE_180,
    Image.Transpose.ROTATE_270,
    Image.Transpose.FLIP_LEFT_RIGHT,
    Image.Transpose.TRANSVERSE,
    Image.Transpose.FLIP_TOP_BOTTOM,
    Image.Transpose.TRANSPOSE,
]


@pytest.mark.parametrize("name", ["astronaut", "coffee"])  # a square and a 3:2 photo
@pytest.mark.parametrize("position", range(len(ORIENTATIONS)), ids=[t.name for t in ORIENTATIONS])
def test_a_turned_or_mirrored_upload_matches_one_of_the_originals_orientation_hashes(name: str, position: int) -> None:
    # Given a real photograph and a re-listing of it turned or mirrored, both uploaded as JPEG
    photo = Image.fromarray(getattr(skimage.data, name)())
    original = inspect_image(jpeg_of(photo), **LIMITS)
    turned = inspect_image(jpeg_of(photo.transpose(ORIENTATIONS[position])), **LIMITS)

    # Then the copy's pHash is within a few bits of the original's hash in that orientation,
    # while the plain pHashes are as far apart as two unrelated pictures'
    distances = [hamming_distance(turned.phash, value) for value in original.phash_turns]
    assert len(original.phash_turns) == 7
    assert distances[position] <= 4, distances
    assert hamming_distance(original.phash, turned.phash) >= 16
    # and the relation is symmetric: the original is the copy turned back
    assert min(hamming_distance(original.phash, value) for value in turned.phash_turns) <= 4


def test_orientation_hashes_are_those_of_the_turned_picture_and_a_greyscale_copy_keeps_the_phash() -> None:
    photo = Image.fromarray(skimage.data.astronaut())
    turns = orientation_hashes(photo)
    # Computed from the turned 32x32 matrix, they agree with hashing each turned picture (to the
    # rounding of PIL's two-pass resize: a bit or two).
    distances = [
        hamming_distance(turn, perceptual_hash(photo.transpose(t))) for turn, t in zip(turns, ORIENTATIONS, strict=True)
    ]
    assert max(distances) <= 2, distances
    assert len(set(turns) | {perceptual_hash(photo)}) == 8, "a real photo looks different each way round"
    # The pHash reads luminance only: a greyscale re-listing is an exact copy by hash.
    grey = inspect_image(jpeg_of(photo.convert("L")), **LIMITS)
    assert hamming_distance(grey.phash, perceptual_hash(photo)) <= 2
