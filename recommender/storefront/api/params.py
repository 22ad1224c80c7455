"""Request parameters: validated by serializers so a bad one is a 400 that names it."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.models import Category
from config.api import MAX_ID, MAX_OFFSET, FiniteFloatField, ParamsSerializer, id_field
from config.errors import ApiError
from config.process_cache import ProcessCache
from recommender.merchandising.targets import CATEGORY, Target, TargetError, parse_boost
from recommender.storefront.selectors.filters import ProductFilters
from recommender.storefront.selectors.prior import POPULARITY_PRIOR_HALF_SCORE
from recommender.storefront.selectors.rules import Boost, Pin, Rules, ranking_rules, target_sql
from recommender.storefront.selectors.spaces import Mode

ATTRIBUTE_PREFIX = "attr."
ATTRIBUTE_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
MAX_ATTRIBUTE_FILTERS = 8
MAX_BOOSTS = 8
MAX_PINS = 8
TRUE_WORDS = ("true", "1", "yes")
FALSE_WORDS = ("false", "0", "no")


@extend_schema_field(OpenApiTypes.BOOL)
class OptionalBooleanField(serializers.Field):
    """true/false in a query string, a form or JSON. Not DRF's BooleanField: it reads a
    boolean missing from a query string or form as False, and "absent" must mean "either"."""

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, bool):
            return data
        text = str(data).strip().lower()
        if text in TRUE_WORDS:
            return True
        if text in FALSE_WORDS:
            return False
        raise serializers.ValidationError("must be true or false.")

    def to_representation(self, value: Any) -> bool:
        return bool(value)


class FilterParams(ParamsSerializer):
    category = serializers.SlugField(required=False, help_text="Category slug.")
    brand = serializers.CharField(required=False, max_length=120)
    min_price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False)
    max_price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False)
    in_stock = OptionalBooleanField(
        required=False,
        allow_null=True,
        help_text="true: only products in stock; false: only products out of stock; absent: both.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        low, high = attrs.get("min_price"), attrs.get("max_price")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"max_price": ["must not be below min_price."]})
        return attrs


class PageParams(ParamsSerializer):
    limit = serializers.IntegerField(min_value=1, max_value=100, default=12)
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, default=0)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        depth = settings.RECOMMENDER_MAX_DEPTH
        if attrs["offset"] + attrs["limit"] > depth:
            raise serializers.ValidationError({"offset": [f"offset + limit must not exceed {depth}."]})
        return attrs


class VectorParams(ParamsSerializer):
    mode = serializers.ChoiceField(choices=[m.value for m in Mode], default=Mode.HYBRID.value)
    visual_weight = FiniteFloatField(min_value=0, max_value=1, default=0.5)
    semantic_weight = FiniteFloatField(min_value=0, max_value=1, default=0.5)
    diversity = FiniteFloatField(
        min_value=0, max_value=1, default=0.0, help_text="0: pure relevance; 1: as varied as possible (MMR)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if attrs["mode"] == Mode.HYBRID and attrs["visual_weight"] + attrs["semantic_weight"] <= 0:
            raise serializers.ValidationError({"visual_weight": ["visual_weight + semantic_weight must be > 0."]})
        return attrs


class MerchandisingParams(ParamsSerializer):
    boost = serializers.ListField(
        child=serializers.CharField(max_length=300, allow_blank=True),
        required=False,
        max_length=MAX_BOOSTS,
        help_text="Repeatable: field:value:amount adds amount (-1 to 1) to the combined score of the results it "
        "matches, within this page's candidates; field is brand, category (a slug) or attr.<name>, "
        "e.g. brand:Acme:0.1, attr.season:summer:0.05, brand:Other:-0.2 (buries).",
    )
    pin = serializers.ListField(
        child=serializers.CharField(max_length=60, allow_blank=True),
        required=False,
        max_length=MAX_PINS,
        help_text="Repeatable: product_id:position puts that product at that 1-based position of the list "
        "(within the first RECOMMENDER_PAGE_WINDOW) when it is active and passes the filters and exclusions; "
        "otherwise diagnostics.pins_unplaced names it.",
    )

    # The values stay as sent (the log records them so); merchandising_rules() reads them. An empty one
    # (`?boost=`) is one not sent, as DRF reads every other optional parameter sent empty.
    def validate_boost(self, values: list[str]) -> list[str]:
        values = [text for text in values if text]
        _boosts(values)
        return values

    def validate_pin(self, values: list[str]) -> list[str]:
        values = [text for text in values if text]
        _pins(values)
        return values


def _boosts(values: list[str]) -> list[tuple[Target, float]]:
    boosts = []
    for text in values:
        try:
            boosts.append(parse_boost(text))
        except TargetError as exc:
            raise serializers.ValidationError(f"{text!r}: {exc}") from None
    return boosts


def _pins(values: list[str]) -> list[Pin]:
    window = settings.RECOMMENDER_PAGE_WINDOW
    pins: list[Pin] = []
    for text in values:
        product, colon, position = text.partition(":")
        if not (colon and product.isdecimal() and position.isdecimal() and len(product) <= 19):
            raise serializers.ValidationError(f"{text!r}: must be product_id:position, e.g. 42:1.")
        pin = Pin(product_id=int(product), position=int(position))
        if not 1 <= pin.product_id <= MAX_ID:
            raise serializers.ValidationError(f"{text!r}: no such product id.")
        if not 1 <= pin.position <= window:
            raise serializers.ValidationError(f"{text!r}: the position must be from 1 to {window}.")
        if any(p.product_id == pin.product_id or p.position == pin.position for p in pins):
            raise serializers.ValidationError(f"{text!r}: each product and each position is pinned once.")
        pins.append(pin)
    return pins


def _similar_visual_weight() -> float:
    return float(settings.SIMILAR_VISUAL_WEIGHT)


def _similar_semantic_weight() -> float:
    return 1.0 - float(settings.SIMILAR_VISUAL_WEIGHT)


class SimilarParams(FilterParams, PageParams, VectorParams, MerchandisingParams):
    # The hybrid blend's defaults are the profile's measured ones (settings.SIMILAR_VISUAL_WEIGHT),
    # read per request so that the setting stays the one source.
    visual_weight = FiniteFloatField(
        min_value=0,
        max_value=1,
        default=_similar_visual_weight,
        help_text="Hybrid: the visual space's weight (default SIMILAR_VISUAL_WEIGHT: 0.3 on lite, 0.5 on full).",
    )
    semantic_weight = FiniteFloatField(
        min_value=0,
        max_value=1,
        default=_similar_semantic_weight,
        help_text="Hybrid: the semantic space's weight (default 1 - SIMILAR_VISUAL_WEIGHT).",
    )
    max_similarity = FiniteFloatField(
        min_value=0,
        max_value=1,
        default=0.97,
        help_text="Visual similarity ceiling: closer products are re-listed copies of this one and are left out.",
    )


class SearchParams(FilterParams, PageParams, MerchandisingParams):
    q = serializers.CharField(help_text="The shopper's words.", trim_whitespace=True)
    text_weight = FiniteFloatField(
        min_value=0, max_value=1, default=0.5, help_text="Share of full-text matches in the blend (0: vectors only)."
    )

    def validate_q(self, value: str) -> str:
        limit = settings.SEARCH_MAX_QUERY_LENGTH
        if len(value) > limit:
            raise serializers.ValidationError(f"must be at most {limit} characters.")
        return value


def attribute_filters(data: Any) -> tuple[tuple[str, str], ...]:
    """attr.<name>=<value> pairs from a query string or a JSON object `attributes`."""
    pairs: list[tuple[str, str]] = []
    if isinstance(data, QueryDict):
        pairs = [
            (key[len(ATTRIBUTE_PREFIX) :], str(value))
            for key, value in data.items()
            if key.startswith(ATTRIBUTE_PREFIX)
        ]
    elif isinstance(data, dict):
        raw = data.get("attributes") or {}
        if not isinstance(raw, dict):
            raise ApiError("invalid", "attributes: must be an object of name: value.", details={"attributes": raw})
        pairs = [(str(name), value) for name, value in raw.items()]
    if len(pairs) > MAX_ATTRIBUTE_FILTERS:
        raise ApiError("invalid", f"attr: at most {MAX_ATTRIBUTE_FILTERS} attribute filters.")
    checked: list[tuple[str, str]] = []
    for name, value in pairs:
        if not ATTRIBUTE_NAME.match(name):
            raise ApiError("invalid", f"attr.{name}: attribute names are 1-64 letters, digits, '_' or '-'.")
        if not isinstance(value, (str, int, float, bool)) or len(str(value)) > 200:
            raise ApiError("invalid", f"attr.{name}: must be a string of at most 200 characters.")
        if "\x00" in str(value):
            # From a query string or a form (JSON bodies are refused by the parser): PostgreSQL cannot take it.
            raise ApiError("invalid", f"attr.{name}: must not contain NUL characters (\\u0000).")
        checked.append((name, str(value).lower() if isinstance(value, bool) else str(value)))
    return tuple(sorted(checked))


# Slug -> id of the categories asked for. Only found ones are remembered: a new category is
# found at once, and a deleted one matches no product for up to a minute instead of a 400.
_category_ids: ProcessCache[str, int | None] = ProcessCache(ttl_seconds=60.0)


def _category_id(slug: str) -> int | None:
    category_id = _category_ids.get(
        slug, lambda: Category.objects.filter(slug=slug).values_list("id", flat=True).first()
    )
    if category_id is None:
        _category_ids.forget(slug)
    return category_id


def product_filters(validated: dict[str, Any], data: Any) -> ProductFilters:
    """ProductFilters from validated FilterParams; an unknown category is a 400, not an empty list."""
    category_id = None
    slug = validated.get("category")
    if slug:
        category_id = _category_id(slug)
        if category_id is None:
            raise ApiError("invalid", f"category: unknown category {slug!r}.", details={"category": slug})
    return ProductFilters(
        category_id=category_id,
        category=slug,
        brand=validated.get("brand"),
        min_price=validated.get("min_price"),
        max_price=validated.get("max_price"),
        in_stock=validated.get("in_stock"),
        attributes=attribute_filters(data),
    )


def merchandising_rules(validated: dict[str, Any]) -> Rules:
    """The request's boosts and pins (validated by MerchandisingParams) with the store-wide rules;
    a boost on an unknown category is a 400, as the category filter is."""
    boosts = []
    for target, amount in _boosts(validated.get("boost") or []):
        category_id = None
        if target.field == CATEGORY:
            category_id = _category_id(target.value)
            if category_id is None:
                raise ApiError("invalid", f"boost: unknown category {target.value!r}.", details={"boost": str(target)})
        sql, params = target_sql(target, category_id)
        boosts.append(Boost(name=f"{target}:{amount:g}", sql=sql, params=params, amount=amount))
    return ranking_rules(boosts=boosts, pins=_pins(validated.get("pin") or []))


class ImageSearchParams(FilterParams, PageParams, VectorParams, MerchandisingParams):
    image = serializers.FileField(required=False, help_text="The photo (multipart). It is not stored.")
    image_url = serializers.URLField(required=False, help_text="Or a photo URL, fetched under the import rules.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if bool(attrs.get("image")) == bool(attrs.get("image_url")):
            raise serializers.ValidationError({"image": ["send exactly one of image (a file) or image_url."]})
        return attrs


class RecommendationFilters(FilterParams):
    attributes = serializers.DictField(
        child=serializers.CharField(max_length=200),
        required=False,
        help_text='Attribute equality, e.g. {"color": "red"}.',
    )


class RecommendationParams(PageParams, MerchandisingParams):
    viewed = serializers.ListField(child=id_field(), max_length=100, default=list)
    liked = serializers.ListField(child=id_field(), max_length=100, default=list)
    disliked = serializers.ListField(child=id_field(), max_length=100, default=list)
    query = serializers.CharField(required=False, allow_blank=True, help_text="Optional words, as in /search/.")
    filters = RecommendationFilters(required=False, help_text="in_stock defaults to true here.")
    diversity = FiniteFloatField(min_value=0, max_value=1, default=0.3)
    popularity_weight = FiniteFloatField(
        min_value=0,
        max_value=1,
        default=0.0,
        help_text=f"0 (off) to 1: adds popularity_weight * score / (score + {POPULARITY_PRIOR_HALF_SCORE:g}) to each "
        "result's combined score, "
        "where score is the product's recent clicks and purchases, decayed (a fresh click 1, a purchase 5; 0 "
        "without any); scores.popularity shows what it added. It reorders the candidates found by the history "
        "and the words, it does not add any. Ignored by the starter set (no history, no words), which is "
        "ranked with popularity already.",
    )

    def validate_query(self, value: str) -> str:
        limit = settings.SEARCH_MAX_QUERY_LENGTH
        if len(value) > limit:
            raise serializers.ValidationError(f"must be at most {limit} characters.")
        return value
