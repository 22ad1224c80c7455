"""Listings with photos and vectors made directly (no model), so tests choose exact similarities."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skimage.data
from django.contrib.auth.models import Group, User
from django.core.files.base import ContentFile
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from catalog.imaging import inspect_image
from catalog.models import Category, Product, ProductImage
from config.roles import MERCHANDISERS
from embeddings.models import ImageVector, ProductVector, Space
from embeddings.services import space_encoder_register

ENCODER = "test-visual@1"
DIM = 32
NEAR, SIMILAR = 0.90, 0.80


@pytest.fixture(autouse=True)
def _private_media(media_root: Path) -> Path:
    return media_root


@pytest.fixture
def visual_space(settings: Any) -> Iterator[None]:
    """A registered, active visual encoder with calibrated test thresholds."""
    settings.DUPLICATES_THRESHOLDS = {
        **settings.DUPLICATES_THRESHOLDS,
        "test-visual": {"near": NEAR, "similar": SIMILAR},
    }
    settings.DUPLICATES_PHASH_MAX_DISTANCE = 6
    space_encoder_register(space=Space.VISUAL, identity=ENCODER, dim=DIM)
    yield


class Vectors:
    """Unit vectors with chosen cosine similarities to each other."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def random(self) -> np.ndarray:
        v = self.rng.normal(size=DIM)
        return v / np.linalg.norm(v)

    def at(self, base: np.ndarray, cosine: float, *, away_from: list[np.ndarray] | None = None) -> np.ndarray:
        """A unit vector whose cosine with `base` is exactly `cosine` (orthogonal part random or chosen)."""
        other = self.random()
        for fixed in [base, *(away_from or [])]:
            other -= (other @ fixed) * fixed
        other -= (other @ base) * base
        other /= np.linalg.norm(other)
        return cosine * base + np.sqrt(max(0.0, 1 - cosine**2)) * other


@pytest.fixture
def vectors() -> Vectors:
    return Vectors()


@dataclass
class Listing:
    product: Product
    image: ProductImage


_counter = iter(range(1, 1_000_000))


def listing(
    vector: np.ndarray,
    *,
    sku: str | None = None,
    content: bytes | None = None,
    phash: int | None = None,
    phash_turns: tuple[int, ...] = (),
    product_group: str = "",
    category: Category | None = None,
    seller: str = "",
    title: str = "",
) -> Listing:
    """A product with one photo (file in MEDIA_ROOT) and its visual image and product vectors."""
    n = next(_counter)
    sku = sku or f"DUP-{n}"
    data = content if content is not None else f"photo bytes {n}".encode()
    sha = hashlib.sha256(data).hexdigest()
    product = Product.objects.create(
        sku=sku,
        title=title or f"Listing {sku}",
        price=Decimal("19.90"),
        stock=3,
        product_group=product_group,
        category=category,
        seller=seller,
    )
    image = ProductImage(
        product=product,
        sha256=sha,
        phash=phash,
        phash_turns=list(phash_turns),
        width=10,
        height=10,
        embedding_status="done",
    )
    image.file.save(f"{sha}.jpg", ContentFile(data), save=False)
    image.thumbnails = {"160": f"thumbs/{sha}-160.jpg"}
    image.save()
    embedding = vector.astype(np.float32).tolist()
    ImageVector.objects.create(
        image=image, product=product, space=Space.VISUAL, encoder=ENCODER, embedding=embedding, image_version=1
    )
    ProductVector.objects.create(product=product, space=Space.VISUAL, encoder=ENCODER, embedding=embedding)
    return Listing(product=product, image=image)


def photo_listing(picture: Image.Image, vector: np.ndarray, **fields: Any) -> Listing:
    """A listing whose photo evidence (bytes, pHash, turned pHashes) is the JPEG of a real `picture`
    as the upload stores it (catalog.imaging.inspect_image); its vector is chosen by the test."""
    out = io.BytesIO()
    picture.convert("RGB").save(out, format="JPEG", quality=90)
    inspected = inspect_image(out.getvalue(), max_bytes=10**8, max_pixels=10**8)
    return listing(vector, content=out.getvalue(), phash=inspected.phash, phash_turns=inspected.phash_turns, **fields)


@dataclass
class Relistings:
    """A real photo, re-listed turned a quarter and in greyscale, both far from it in the visual space,
    among look-alikes nearer to it than either copy (so the visual k-NN, LIMIT 3, returns only those)."""

    original: Listing
    turned: Listing
    greyscale: Listing
    look_alikes: list[Listing]
    unrelated: Listing
    swatches: tuple[Listing, Listing]  # two flat pictures, same hash, nothing alike


def relistings(vectors: Vectors, *, original_turns: bool = True) -> Relistings:
    astronaut = Image.fromarray(skimage.data.astronaut())
    base = vectors.random()
    original = photo_listing(astronaut, base)
    if not original_turns:  # a photo stored before its turned pHashes were kept
        original.image.phash_turns = []
        original.image.save()
    look_alikes = [
        photo_listing(Image.fromarray(getattr(skimage.data, name)()), vectors.at(base, 0.7))
        for name in ("chelsea", "rocket", "camera", "coins")
    ]
    turned = photo_listing(astronaut.transpose(Image.Transpose.ROTATE_90), vectors.at(base, 0.55))
    greyscale = photo_listing(astronaut.convert("L"), vectors.at(base, 0.45))
    unrelated = photo_listing(Image.fromarray(skimage.data.coffee()), vectors.at(base, 0.3))
    # A red and a green swatch of one luminance: the pHash reads grey levels only, so theirs agree.
    red, green = Image.new("RGB", (300, 300), (255, 0, 0)), Image.new("RGB", (300, 300), (0, 130, 0))
    swatches = (photo_listing(red, vectors.random()), photo_listing(green, vectors.random()))
    return Relistings(original, turned, greyscale, look_alikes, unrelated, swatches)


def api_client(username: str, *, merchandiser: bool = False, staff: bool = False) -> tuple[APIClient, User]:
    user = User.objects.create_user(username=username, password="a-long-test-password", is_staff=staff)
    if merchandiser:
        # get_or_create: a transaction=True test may have flushed the row the migration made.
        user.groups.add(Group.objects.get_or_create(name=MERCHANDISERS)[0])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client, user
