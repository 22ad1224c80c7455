"""Vector storage: one table per granularity, keyed by (space, encoder).

The `embedding` columns are dimensionless halfvec so that encoders of any
dimension share a table. Each (space, encoder) gets its own partial HNSW index
on the expression `(embedding::halfvec(<dim>))` (see embeddings.vector_indexes),
the layout pgvector documents for storing several models in one table.
"""

from __future__ import annotations

from django.db import models
from pgvector.django import HalfVectorField

from catalog.models import Product, ProductImage
from embeddings.models.spaces import Space


class ImageVector(models.Model):
    """One photo's vector in one space. Used for duplicates and photo evidence."""

    image = models.ForeignKey(ProductImage, on_delete=models.CASCADE, related_name="vectors")
    # Denormalised so k-NN over images can join products without touching images.
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="image_vectors")
    space = models.CharField(max_length=16, choices=Space.choices)
    encoder = models.CharField(max_length=160)
    embedding = HalfVectorField()
    # The ProductImage.version these vectors were computed from.
    image_version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["image", "space", "encoder"], name="image_vector_unique"),
        ]
        indexes = [models.Index(fields=["product", "space", "encoder"], name="image_vector_product")]

    def __str__(self) -> str:
        return f"{self.space} vector of image {self.image_id} ({self.encoder})"


class ProductVector(models.Model):
    """A product's vector in one space: the normalised mean of its photos' vectors, in the semantic
    space blended with its text vector (embeddings.encoders.multimodal, SEMANTIC_TEXT_WEIGHT).

    Storefront queries ("more like this", text search) run k-NN over `embedding`;
    search by photo in the semantic space runs it over the photos' mean alone
    (`coalesce(image_embedding, embedding)`, embeddings.vector_indexes.photo_mean_sql),
    through its own partial HNSW index: a photo is compared with photos only.
    """

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="vectors")
    space = models.CharField(max_length=16, choices=Space.choices)
    encoder = models.CharField(max_length=160)
    embedding = HalfVectorField()
    # The photos' mean alone, where `embedding` blends in the product's words (Space.blends_text);
    # NULL where `embedding` is that mean (the visual space, words not embedded yet, weight 0).
    image_embedding = HalfVectorField(null=True, blank=True)
    image_count = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product", "space", "encoder"], name="product_vector_unique"),
        ]
        # The cold-start starter set assigns the vectors written since its last k-means to the
        # clusters on every request (recommender.storefront.selectors.starter): newest first, bounded.
        # On updated_at alone: an index led by (space, encoder) would offer the planner a way to read
        # a whole space in order, a rival to the HNSW index for k-NN queries that filter on both.
        indexes = [models.Index(fields=["-updated_at"], name="product_vector_recent")]

    def __str__(self) -> str:
        return f"{self.space} vector of product {self.product_id} ({self.encoder})"


class ProductTextVector(models.Model):
    """A product's words (embeddings.encoders.multimodal.product_text) through one encoder's text tower.

    Blended into the product's vector, never compared on its own. `text_version`
    is the Product.text_version it was computed from: an older one never
    replaces a newer one.
    """

    # The unique constraint's index (product, space, encoder) serves lookups by product: no second one.
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="text_vectors", db_index=False)
    space = models.CharField(max_length=16, choices=Space.choices)
    encoder = models.CharField(max_length=160)
    embedding = HalfVectorField()
    text_version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product", "space", "encoder"], name="product_text_vector_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.space} text vector of product {self.product_id} ({self.encoder})"
