"""What every API view shares: validated input and the pagination envelope."""

from __future__ import annotations

import copy
import math
from typing import Any

from rest_framework import serializers


def validated(
    serializer_class: type[serializers.Serializer[Any]], data: Any, *, partial: bool = False
) -> dict[str, Any]:
    """The serializer's validated data; a ValidationError (400 in the one envelope, naming the field) otherwise."""
    serializer = serializer_class(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _field_copy(field: serializers.Field[Any, Any, Any, Any]) -> serializers.Field[Any, Any, Any, Any]:
    # A plain field's state per request is what bind() sets on the copy (name, parent, source); its
    # validators, messages and default are only read. A list's child is bound to the list, so it
    # gets a copy of its own; a nested serializer holds bound fields of its own and is copied whole.
    if isinstance(field, serializers.BaseSerializer | serializers.DictField):
        return copy.deepcopy(field)
    if isinstance(field, serializers.ListField):
        listed: serializers.ListField = copy.copy(field)
        # Bound already (ListField's __init__ binds it, name ''): only its parent is this copy.
        listed.child = _field_copy(field.child)
        listed.child.parent = listed  # type: ignore[assignment]  # the stubs say a serializer; DRF binds it so
        return listed
    return copy.copy(field)


class ParamsSerializer(serializers.Serializer[Any]):
    """A serializer of request parameters, built on every request: its fields copied one level deep.

    DRF deep-copies every declared field (its arguments, its choices, its validators) for each
    serializer it builds: on a storefront request that was ~0.8 ms of ~7 (profiled), more than
    the rest of the parameter checks together. Declared fields are never changed after the class
    is made, so a shallow copy of each, bound to this serializer, validates the same.
    """

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        return {name: _field_copy(field) for name, field in self._declared_fields.items()}


def page_envelope(*, offset: int, limit: int, has_more: bool) -> dict[str, int | None]:
    """offset, limit and next_offset (null on the last page): the paging fields of every list response."""
    return {"offset": offset, "limit": limit, "next_offset": offset + limit if has_more else None}


# PostgreSQL's bigint: an id above it cannot exist, and sending one to the database is an overflow (a 500).
MAX_ID = 2**63 - 1
# Deepest offset any list endpoint accepts: bounded so that no integer parameter reaches SQL unchecked.
MAX_OFFSET = 1_000_000


def id_field(**kwargs: Any) -> serializers.IntegerField:
    """A product, group or photo id: 1 .. bigint's maximum."""
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


class FiniteFloatField(serializers.FloatField):
    """DRF's FloatField takes "nan" and "inf", which slip past min/max checks (every comparison with NaN is false),
    and JSON's true and false (float(False) is 0.0): a boolean is no weight."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("invalid")
        return value


def optional_query_parameters_may_be_empty(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the document says what DRF does with `?mode=`.

    DRF reads an optional query parameter sent empty as one not sent (its HTML form rule:
    an empty field is an omitted one), so `?mode=&category=` is the defaults, not a 400.
    OpenAPI's word for that is allowEmptyValue.
    """
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and not parameter.get("required"):
                    parameter["allowEmptyValue"] = True
    return result
