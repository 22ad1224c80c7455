"""Input and output shapes of the duplicate-review API (see README, "Duplicate listings")."""

from __future__ import annotations

from typing import Any

from django.core.files.storage import default_storage
from rest_framework import serializers

from catalog.models import Category, ProductImage
from config.api import MAX_OFFSET, id_field
from recommender.duplicates.models import Decision, GroupStatus
from recommender.duplicates.thresholds import TIER_CHOICES

STATUS_ALL = "all"


class QueueParams(serializers.Serializer):
    tier = serializers.ChoiceField(choices=[code for code, _ in TIER_CHOICES], required=False)
    status = serializers.ChoiceField(
        choices=[*GroupStatus.values, STATUS_ALL], default=GroupStatus.OPEN.value, help_text="Default: open."
    )
    category = serializers.SlugField(required=False, help_text="Category slug (of the group's representative).")
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, default=0)

    def validate_category(self, slug: str) -> int:
        category_id = Category.objects.filter(slug=slug).values_list("pk", flat=True).first()
        if category_id is None:
            raise serializers.ValidationError(f"unknown category {slug!r}.")
        return category_id


class ResolveInput(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[Decision.DUPLICATE.value, Decision.NOT_DUPLICATE.value])
    keep = id_field(required=False, help_text="Product id to keep; required when decision is duplicate.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["decision"] == Decision.DUPLICATE and attrs.get("keep") is None:
            raise serializers.ValidationError({"keep": ["required when decision is 'duplicate'."]})
        return attrs


def _media_url(relative: str) -> str:
    return default_storage.url(relative)


class ImageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.SerializerMethodField()
    thumbnail = serializers.SerializerMethodField()

    def get_url(self, image: ProductImage) -> str | None:
        return self._absolute(image.file.url) if image.file else None

    def get_thumbnail(self, image: ProductImage) -> str | None:
        relative = (image.thumbnails or {}).get("160")
        return self._absolute(_media_url(relative)) if relative else self.get_url(image)

    def _absolute(self, url: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url


class ProductCardSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    title = serializers.CharField()
    brand = serializers.CharField()
    seller = serializers.CharField()
    price = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    category = serializers.CharField(source="category.slug", allow_null=True, default=None, read_only=True)
    is_active = serializers.BooleanField()


class MemberSerializer(serializers.Serializer):
    product = ProductCardSerializer()
    is_representative = serializers.BooleanField()
    tier = serializers.CharField(help_text="Tier of this member's link to the representative.")
    similarity = serializers.FloatField(help_text="Visual cosine similarity to the representative's photo.")
    phash_distance = serializers.IntegerField(allow_null=True)
    image = ImageSerializer(allow_null=True, help_text="This member's photo that was compared.")
    representative_image = ImageSerializer(allow_null=True)
    deactivated = serializers.BooleanField(help_text="Deactivated by this group's decision (restorable).")


class CategoryRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()


class GroupSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    tier = serializers.CharField()
    status = serializers.CharField()
    score = serializers.FloatField(help_text="Lowest member-to-representative similarity.")
    representative_id = serializers.IntegerField()
    category = CategoryRefSerializer(allow_null=True)
    kept_product_id = serializers.IntegerField(allow_null=True)
    decided_by = serializers.CharField(
        source="decided_by.username", allow_null=True, default=None, read_only=True, help_text="Reviewer's username."
    )
    decided_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    members = MemberSerializer(many=True)


class GroupPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    offset = serializers.IntegerField()
    limit = serializers.IntegerField()
    next_offset = serializers.IntegerField(allow_null=True)
    results = GroupSerializer(many=True)
