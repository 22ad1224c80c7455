"""What every API view shares: validated input and the pagination envelope."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


def validated(
    serializer_class: type[serializers.Serializer[Any]], data: Any, *, partial: bool = False
) -> dict[str, Any]:
    """The serializer's validated data; a ValidationError (400 in the one envelope, naming the field) otherwise."""
    serializer = serializer_class(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def page_envelope(*, offset: int, limit: int, has_more: bool) -> dict[str, int | None]:
    """offset, limit and next_offset (null on the last page): the paging fields of every list response."""
    return {"offset": offset, "limit": limit, "next_offset": offset + limit if has_more else None}
