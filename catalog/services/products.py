"""Product writes."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from catalog.models import Category, Product, ProductImage
from catalog.services.files import image_file_names, image_files_delete
from embeddings.tasks import enqueue_text_embedding

# The fields staff may set, in display order (the API's output follows it).
PRODUCT_FIELDS = (
    "sku",
    "title",
    "description",
    "brand",
    "category",
    "price",
    "currency",
    "stock",
    "attributes",
    "product_group",
    "seller",
    "is_active",
)
# The fields the semantic space reads as the product's words (embeddings.encoders.multimodal.product_text).
PRODUCT_TEXT_FIELDS = frozenset({"title", "brand", "category", "attributes", "description"})


def category_get_or_create(*, name: str, slug: str = "") -> Category:
    """The category with this slug (made from the name when not given), created if missing."""
    slug = slug or slugify(name)[:100]
    if not slug:
        raise ValidationError({"category": f"cannot make a category slug from {name!r}"})
    # get_or_create survives the insert race through the unique slug.
    category, _ = Category.objects.get_or_create(slug=slug, defaults={"name": name or slug})
    return category


def product_create(
    *,
    sku: str,
    title: str,
    price: Decimal,
    description: str = "",
    brand: str = "",
    category: Category | None = None,
    currency: str = "EUR",
    stock: int = 0,
    attributes: dict[str, Any] | None = None,
    product_group: str = "",
    seller: str = "",
    is_active: bool = True,
) -> Product:
    product = Product(
        sku=sku,
        title=title,
        price=price,
        description=description,
        brand=brand,
        category=category,
        currency=currency,
        stock=stock,
        attributes=attributes or {},
        product_group=product_group,
        seller=seller,
        is_active=is_active,
    )
    product.full_clean()
    try:
        # full_clean checked the SKU is free, but another request may take it
        # in between: the unique constraint decides, and we report it the same way.
        with transaction.atomic():
            product.save()
            # New rows start dirty (the model's default): the worker embeds their words.
            enqueue_text_embedding([product.pk])
    except IntegrityError:
        if Product.objects.filter(sku=sku).exists():
            raise ValidationError({"sku": "Product with this Sku already exists."}) from None
        raise
    return product


def product_update(*, product: Product, **changes: Any) -> Product:
    unknown = set(changes) - set(PRODUCT_FIELDS)
    if unknown:
        raise ValidationError({name: "unknown field" for name in sorted(unknown)})
    words_changed = any(getattr(product, name) != changes[name] for name in PRODUCT_TEXT_FIELDS & set(changes))
    for name, value in changes.items():
        setattr(product, name, value)
    product.full_clean()
    try:
        with transaction.atomic():
            product.save(update_fields=[*changes, "updated_at"])
            if words_changed:
                product_texts_mark_dirty(product_ids=[product.pk])
    except IntegrityError:
        raise ValidationError({"sku": "Product with this Sku already exists."}) from None
    return product


def product_words_changed(product: Product) -> bool:
    """Whether `product`, edited but not saved yet (a form's instance), differs from its stored row in its words."""
    names = [*sorted(PRODUCT_TEXT_FIELDS - {"category"}), "category_id"]
    stored = Product.objects.filter(pk=product.pk).values_list(*names).first() if product.pk else None
    return stored != tuple(getattr(product, name) for name in names)


def product_texts_mark_dirty(*, product_ids: Sequence[int]) -> int:
    """Mark the products' words changed and enqueue their text vectors once the transaction commits.

    The version is bumped in the UPDATE itself (not read-modify-written), so two
    edits at once give two versions, and the worker clears the flag only if the
    version it embedded is still the current one (embeddings.texts).
    """
    ids = sorted(set(product_ids))
    count = Product.objects.filter(pk__in=ids).update(text_version=F("text_version") + 1, text_dirty_at=timezone.now())
    enqueue_text_embedding(ids)
    return count


def product_texts_mark_all_dirty() -> int:
    """Every product's words to be embedded again (after a change of SEMANTIC_TEXT_WEIGHT, say): not enqueued,
    `manage.py embed_texts` or the sweeper takes them. The count marked."""
    return Product.objects.update(text_version=F("text_version") + 1, text_dirty_at=timezone.now())


def product_delete(*, product: Product) -> None:
    """Delete a product, its photos and vectors; its files go once the delete commits."""
    with transaction.atomic():
        # Photo rows first, then the product (the pipeline's lock order): waits for a
        # worker embedding one of them, and then the cascade sees its vectors.
        images = list(ProductImage.objects.select_for_update().filter(product=product).only("file", "thumbnails"))
        names = [name for image in images for name in image_file_names(image)]
        product.delete()
        transaction.on_commit(lambda: image_files_delete(names))
