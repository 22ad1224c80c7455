"""Test data: products, staff clients and image bytes of every kind the upload must handle."""

from __future__ import annotations

import io
import struct
import zlib
from decimal import Decimal
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from catalog.models import Product
from config.roles import CATALOG_ACTIONS, CATALOG_MODELS, STORE_ADMINS


def product(sku: str = "SKU-1", **fields: Any) -> Product:
    defaults: dict[str, Any] = {"title": f"Product {sku}", "price": Decimal("10.00"), "stock": 5}
    defaults.update(fields)
    return Product.objects.create(sku=sku, **defaults)


def store_admins() -> Group:
    """The store admins' group with the catalogue's permissions (a transaction=True test's flush drops the
    migration's rows; post_migrate brings the permissions back, so the group is made here when missing)."""
    group, _ = Group.objects.get_or_create(name=STORE_ADMINS)
    codenames = [f"{action}_{model}" for action in CATALOG_ACTIONS for model in CATALOG_MODELS]
    group.permissions.set(Permission.objects.filter(content_type__app_label="catalog", codename__in=codenames))
    return group


def api_client(*, staff: bool, username: str = "") -> APIClient:
    """A client authenticated with a DRF token: a store admin (staff, in the store-admins group) or a shopper."""
    user = get_user_model().objects.create_user(
        username=username or ("staff" if staff else "shopper"), password="x-long-password", is_staff=staff
    )
    if staff:
        user.groups.add(store_admins())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def photo(seed: int = 0, size: tuple[int, int] = (96, 64)) -> Image.Image:
    """A deterministic RGB picture with structure (gradients and a block), distinct per seed."""
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    base = rng.integers(0, 255, size=3)
    pixels = np.stack([(x * (c + 1) * 3 + y * (seed + 1) + base[c]) % 256 for c in range(3)], axis=-1)
    top, left = rng.integers(0, height // 2), rng.integers(0, width // 2)
    pixels[top : top + height // 3, left : left + width // 3] = rng.integers(0, 255, size=3)
    return Image.fromarray(pixels.astype(np.uint8), "RGB")


def encode(image: Image.Image, fmt: str = "JPEG", **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def jpeg(seed: int = 0, size: tuple[int, int] = (96, 64)) -> bytes:
    return encode(photo(seed, size), "JPEG", quality=90)


def exif_rotated_jpeg(size: tuple[int, int] = (120, 40)) -> bytes:
    """Stored landscape, EXIF orientation 6 (rotate 90° clockwise to display): shown as portrait."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(photo(7, size), "JPEG", exif=exif.tobytes())


def cmyk_jpeg() -> bytes:
    return encode(photo(3).convert("CMYK"), "JPEG")


def png16() -> bytes:
    """A 16-bit greyscale PNG (mode I;16)."""
    values = (np.linspace(0, 65535, 64 * 48).reshape(48, 64)).astype(np.uint16)
    image = Image.fromarray(values)
    assert image.mode.startswith("I;16")
    return encode(image, "PNG")


def decompression_bomb(side: int = 20_000) -> bytes:
    """A tiny PNG whose header claims side x side pixels (a few hundred bytes, 400 MP)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (side // 8 + 1) * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
