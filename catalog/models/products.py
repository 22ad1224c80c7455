from __future__ import annotations

from decimal import Decimal

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.core.validators import MinValueValidator, ProhibitNullCharactersValidator
from django.db import models
from django.utils import timezone

from catalog.validation import validate_attributes

# PostgreSQL text cannot hold U+0000: refused by full_clean() with the field's name, not by the driver.
NO_NUL = [ProhibitNullCharactersValidator()]


class ListingKey(models.Func):
    """A product's title and brand, lower case, runs of white space as one: how a re-listing is recognised.

    recommender.duplicates.detection.listing_key spells the same in Python. Stored (Product.listing_key)
    because "more like this" compares it for every candidate row: computed per row, the regular
    expression cost ~3 µs a row, a third of an exact scan over a 1 % category.
    """

    template = "btrim(regexp_replace(lower(%(expressions)s), '\\s+', ' ', 'g'))"
    arg_joiner = " || ' | ' || "
    output_field = models.TextField()


class Category(models.Model):
    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200, validators=NO_NUL)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    """A sellable listing.

    Price and stock change often. They live here, on a table without vector
    indexes: pgvector's HNSW makes every update of a row in an indexed table
    expensive, so vectors are kept in embeddings.ProductVector instead.
    """

    sku = models.CharField(max_length=64, unique=True, validators=NO_NUL)
    title = models.CharField(max_length=300, validators=NO_NUL)
    description = models.TextField(blank=True, validators=NO_NUL)
    brand = models.CharField(max_length=120, blank=True, db_index=True, validators=NO_NUL)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products", null=True, blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))])
    currency = models.CharField(max_length=3, default="EUR")
    stock = models.PositiveIntegerField(default=0)
    attributes = models.JSONField(default=dict, blank=True, validators=[validate_attributes])
    # Variants of one product (colours, sizes) share a group; they are never
    # recommended as "similar" to each other nor flagged as duplicates.
    product_group = models.CharField(max_length=64, blank=True, db_index=True, validators=NO_NUL)
    seller = models.CharField(max_length=120, blank=True, validators=NO_NUL)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The dirty flag of the product's text vectors (embeddings.texts): the words the semantic space blends
    # in. Bumped and set by the services whenever title, brand, category, attributes or description
    # change; cleared by the worker once vectors of this version are stored; NULL means clean.
    # db_default too: rows written by SQL that predates the column (old fixtures, other tools) stay valid.
    text_version = models.PositiveIntegerField(default=1, db_default=1)
    text_dirty_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    # Written by PostgreSQL from title and brand on every insert and update (a stored generated column):
    # no code path can forget it.
    listing_key = models.GeneratedField(
        expression=ListingKey("title", "brand"), output_field=models.TextField(), db_persist=True
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["category", "is_active"], name="product_category_active"),
            models.Index(fields=["price"], name="product_price"),
            GinIndex(fields=["attributes"], name="product_attributes_gin"),
            GinIndex(
                SearchVector("title", "description", "brand", config="english"),
                name="product_search_gin",
            ),
            # The sweeper's scan for texts left dirty: only the few dirty rows are in it.
            models.Index(
                fields=["text_dirty_at"], name="product_text_dirty", condition=models.Q(text_dirty_at__isnull=False)
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gte=0), name="product_price_not_negative"),
            models.CheckConstraint(condition=models.Q(currency__regex=r"^[A-Z]{3}$"), name="product_currency_iso"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.title}"
