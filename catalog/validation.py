"""What the database can store, checked before it is asked to: no NUL characters, attributes of a bounded shape.

PostgreSQL's text and JSONB refuse U+0000 (a driver error, a 500), and a deeply
nested attributes object made JSON encoding recurse until Python gave up. The
model fields carry these validators, so full_clean() in the services refuses
such values, with the field's name, for the API, the admin and imports alike.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.core.exceptions import ValidationError

MAX_ATTRIBUTES_DEPTH = 4
MAX_ATTRIBUTES_BYTES = 16 * 1024
# Lone surrogates: JSON's "\ud800" escape decodes to them, and no UTF-8 encoder (PostgreSQL's) takes them.
_SURROGATES = re.compile("[\ud800-\udfff]")


def _depth(value: Any, level: int = 1) -> int:
    if level > MAX_ATTRIBUTES_DEPTH:
        return level  # deep enough to refuse: stop before the recursion gets anywhere near Python's limit
    if isinstance(value, dict):
        return max((_depth(item, level + 1) for item in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(item, level + 1) for item in value), default=level)
    return level


def validate_attributes(value: Any) -> None:
    """An object of name: value, nested at most MAX_ATTRIBUTES_DEPTH levels, at most MAX_ATTRIBUTES_BYTES as JSON."""
    if not isinstance(value, dict):
        raise ValidationError("must be an object of name: value.")
    if _depth(value) > MAX_ATTRIBUTES_DEPTH:
        raise ValidationError(f"must not nest deeper than {MAX_ATTRIBUTES_DEPTH} levels.")
    encoded = json.dumps(value, ensure_ascii=False)
    if "\\u0000" in encoded or "\x00" in encoded:
        raise ValidationError("must not contain NUL characters (\\u0000).")
    if _SURROGATES.search(encoded):  # the size check below would raise UnicodeEncodeError (a 500)
        raise ValidationError("must not contain lone surrogates (\\ud800-\\udfff).")
    if len(encoded.encode()) > MAX_ATTRIBUTES_BYTES:
        raise ValidationError(f"must be at most {MAX_ATTRIBUTES_BYTES} bytes as JSON.")
