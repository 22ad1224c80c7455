"""Input and output shapes of the catalog write API."""

from __future__ import annotations

from typing import Any

from django.core.files.storage import default_storage
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.models import Category, Product, ProductImage
from catalog.services.products import PRODUCT_FIELDS


class ProductInputSerializer(serializers.Serializer[Any]):
    sku = serializers.CharField(max_length=64)
    title = serializers.CharField(max_length=300)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    brand = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    category = serializers.SlugRelatedField(
        slug_field="slug", queryset=Category.objects.all(), required=False, allow_null=True, default=None
    )
    price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    currency = serializers.RegexField(r"^[A-Z]{3}$", required=False, default="EUR")
    stock = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False, default=0)
    attributes = serializers.DictField(required=False, default=dict)
    product_group = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    seller = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    is_active = serializers.BooleanField(required=False, default=True)


class ImageUploadSerializer(serializers.Serializer[Any]):
    # Empty files pass here so that the service names the problem like every other bad image.
    image = serializers.FileField(allow_empty_file=True, help_text="JPEG, PNG, WebP, GIF (first frame), AVIF or HEIC.")
    position = serializers.IntegerField(min_value=0, max_value=32767, required=False)


class CategoryOutputSerializer(serializers.ModelSerializer[Category]):
    class Meta:
        model = Category
        fields = ["slug", "name"]


class ImageOutputSerializer(serializers.ModelSerializer[ProductImage]):
    url = serializers.SerializerMethodField()
    thumbnails = serializers.SerializerMethodField()

    class Meta:
        model = ProductImage
        fields = [
            "id",
            "url",
            "thumbnails",
            "width",
            "height",
            "position",
            "sha256",
            "phash",
            "embedding_status",
            "embedding_error",
            "embedding_requested_at",
            "embedded_at",
            "created_at",
        ]

    def _absolute(self, name: str) -> str:
        url = default_storage.url(name)
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, image: ProductImage) -> str:
        return self._absolute(image.file.name)

    @extend_schema_field(
        {
            "type": "object",
            "additionalProperties": {"type": "string", "format": "uri"},
            "example": {"160": "http://shop.example/media/thumbs/ab/abcd_160.jpg"},
        }
    )
    def get_thumbnails(self, image: ProductImage) -> dict[str, str]:
        return {size: self._absolute(name) for size, name in sorted((image.thumbnails or {}).items())}


class ProductOutputSerializer(serializers.ModelSerializer[Product]):
    category = CategoryOutputSerializer(allow_null=True)
    images = ImageOutputSerializer(many=True)

    class Meta:
        model = Product
        fields = ["id", *PRODUCT_FIELDS, "created_at", "updated_at", "images"]
