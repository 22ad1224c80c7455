"""What a boost is aimed at, spelt the same way in a request (`boost=brand:Acme:0.1`) and in a stored rule.

A target is a field and a value: `brand` (exact brand), `category` (a category
slug) or `attr.<name>` (an attribute's value). This module only checks the
spelling; whether the category or attribute exists is the caller's question (a
stored rule is refused when it names one the catalogue lacks, a request when its
category is unknown). No Django here: the storefront's parameters and the rule
model share it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

BRAND, CATEGORY, ATTRIBUTE_PREFIX = "brand", "category", "attr."
ATTRIBUTE_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")
SURROGATES = re.compile("[\ud800-\udfff]")
MAX_VALUE_LENGTH = 200
MAX_AMOUNT = 1.0


class TargetError(ValueError):
    """A target or an amount spelt wrong; the message says how, for a 400 or a form error."""


@dataclass(frozen=True)
class Target:
    field: str  # "brand", "category" or "attr.<name>"
    value: str

    @property
    def attribute(self) -> str | None:
        return self.field[len(ATTRIBUTE_PREFIX) :] if self.field.startswith(ATTRIBUTE_PREFIX) else None

    def __str__(self) -> str:
        return f"{self.field}:{self.value}"


def check_target(field: str, value: str) -> Target:
    if field not in (BRAND, CATEGORY) and not (
        field.startswith(ATTRIBUTE_PREFIX) and ATTRIBUTE_NAME.match(field[len(ATTRIBUTE_PREFIX) :])
    ):
        raise TargetError(f"{field!r} is no field: brand, category or attr.<name> (1-64 letters, digits, '_', '-').")
    if not value or len(value) > MAX_VALUE_LENGTH:
        raise TargetError(f"the value must be 1-{MAX_VALUE_LENGTH} characters.")
    if "\x00" in value:
        raise TargetError("the value must not contain NUL characters (\\u0000).")
    if SURROGATES.search(value):  # JSON's "\ud800" decodes to one, and PostgreSQL's UTF-8 cannot take it
        raise TargetError("the value must not contain lone surrogates (\\ud800-\\udfff).")
    if field == CATEGORY and not SLUG.match(value):
        raise TargetError(f"{value!r} is no category slug.")
    return Target(field=field, value=value)


def check_amount(amount: float) -> float:
    if not math.isfinite(amount) or abs(amount) > MAX_AMOUNT:
        raise TargetError(f"the amount must be a number from -{MAX_AMOUNT:g} to {MAX_AMOUNT:g}.")
    return amount


def parse_boost(text: str) -> tuple[Target, float]:
    """`field:value:amount`; the value may itself hold colons (the field ends at the first, the amount starts
    after the last)."""
    field, _, rest = text.partition(":")
    value, colon, amount_text = rest.rpartition(":")
    if not colon:
        raise TargetError("must be field:value:amount, e.g. brand:Acme:0.1.")
    try:
        amount = float(amount_text)
    except ValueError:
        raise TargetError(f"{amount_text!r} is no number (field:value:amount).") from None
    return check_target(field, value), check_amount(amount)
