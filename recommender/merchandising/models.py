"""Store-wide merchandising rules: kept here, edited in the admin, applied to every storefront ranking.

Score rules (bury out of stock, boost new arrivals, boost or bury a brand, a
category or an attribute value) add their amount to a matching result's
`combined` score; an exclusion rule keeps one category out of the "more like
this" lists of products of another. recommender.merchandising.rules reads them
for the storefront.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from catalog.models import Category, Product
from recommender.merchandising.targets import CATEGORY, TargetError, check_target


class RuleKind(models.TextChoices):
    BURY_OUT_OF_STOCK = "bury_out_of_stock", "Bury out-of-stock products (amount < 0)"
    BOOST_NEW_ARRIVALS = "boost_new_arrivals", "Boost products created in the last N days"
    BOOST_FIELD = "boost_field", "Boost (or, with amount < 0, bury) a brand, category or attribute value"
    EXCLUDE_CATEGORY_FROM_SIMILAR = (
        "exclude_category_from_similar",
        "Keep a category out of 'more like this' of another",
    )


SCORE_KINDS = (RuleKind.BURY_OUT_OF_STOCK, RuleKind.BOOST_NEW_ARRIVALS, RuleKind.BOOST_FIELD)


class MerchandisingRule(models.Model):
    name = models.CharField(max_length=100, unique=True, help_text="Shown in each touched result's scores.rules.")
    kind = models.CharField(max_length=40, choices=RuleKind.choices)
    enabled = models.BooleanField(default=True)
    amount = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(-1.0), MaxValueValidator(1.0)],
        help_text="Score rules: added to a matching result's combined score (-1 to 1; below 0 buries).",
    )
    days = models.PositiveIntegerField(null=True, blank=True, help_text="New arrivals: created this many days ago.")
    field = models.CharField(
        max_length=80, blank=True, help_text="Boost a field: brand, category (its slug as the value) or attr.<name>."
    )
    value = models.CharField(max_length=200, blank=True)
    source_category = models.ForeignKey(
        Category,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="Exclusion: on the pages of products of this category …",
    )
    excluded_category = models.ForeignKey(
        Category,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="… 'more like this' never shows products of this one.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gte=-1.0, amount__lte=1.0), name="rule_amount_bounded"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Refuse a rule that could not work, naming the field: called by full_clean() (the admin form, the
        service), so a rule naming a missing category or attribute is refused when saved, not when served."""
        if self.kind in SCORE_KINDS and self.amount == 0:
            raise ValidationError({"amount": "a score rule needs a non-zero amount."})
        if self.kind == RuleKind.BURY_OUT_OF_STOCK and self.amount > 0:
            raise ValidationError({"amount": "burying needs an amount below 0."})
        if self.kind == RuleKind.BOOST_NEW_ARRIVALS and not self.days:
            raise ValidationError({"days": "say how many days count as new."})
        if self.kind == RuleKind.BOOST_FIELD:
            self._clean_target()
        if self.kind == RuleKind.EXCLUDE_CATEGORY_FROM_SIMILAR:
            missing = {
                name: "required for an exclusion rule."
                for name in ("source_category", "excluded_category")
                if getattr(self, f"{name}_id") is None
            }
            if missing:
                raise ValidationError(missing)
            if self.source_category_id == self.excluded_category_id:
                raise ValidationError({"excluded_category": "must differ from the source category."})

    def _clean_target(self) -> None:
        try:
            target = check_target(self.field, self.value)
        except TargetError as exc:
            raise ValidationError({"field": str(exc)}) from None
        if target.field == CATEGORY and not Category.objects.filter(slug=target.value).exists():
            raise ValidationError({"value": f"no category has the slug {target.value!r}."})
        if target.attribute is not None and not Product.objects.filter(attributes__has_key=target.attribute).exists():
            raise ValidationError({"field": f"no product of the catalogue has the attribute {target.attribute!r}."})
