"""ParamsSerializer copies its declared fields one level deep: each request's serializer still validates alone."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework import serializers

from config.api import ParamsSerializer, validated


class Nested(ParamsSerializer):
    size = serializers.IntegerField(min_value=1)


class Example(ParamsSerializer):
    limit = serializers.IntegerField(min_value=1, max_value=10, default=3)
    tags = serializers.ListField(child=serializers.CharField(max_length=5), required=False, max_length=2)
    nested = Nested(required=False)


def test_each_serializer_binds_copies_of_its_own_and_leaves_the_declared_fields_unbound() -> None:
    first, second = Example(data={}), Example(data={})
    for name in ("limit", "tags", "nested"):
        assert first.fields[name] is not second.fields[name]
        assert first.fields[name] is not Example._declared_fields[name]
        assert first.fields[name].parent is first and second.fields[name].parent is second
    tags_first, tags_second = first.fields["tags"], second.fields["tags"]
    assert isinstance(tags_first, serializers.ListField) and isinstance(tags_second, serializers.ListField)
    assert tags_first.child is not tags_second.child
    assert tags_first.child.parent is tags_first and tags_second.child.parent is tags_second
    assert Example._declared_fields["limit"].parent is None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"limit": "11"}, "limit"),
        ({"tags": ["toolong"]}, "tags"),
        ({"tags": ["a", "b", "c"]}, "tags"),
        ({"nested": {"size": "0"}}, "nested"),
    ],
)
def test_a_bad_value_is_named_whatever_was_validated_before(data: dict[str, Any], field: str) -> None:
    # A good request first: nothing it bound may leak into the next one's checks.
    assert validated(Example, {"limit": "2", "tags": ["ok"], "nested": {"size": "4"}}) == {
        "limit": 2,
        "tags": ["ok"],
        "nested": {"size": 4},
    }
    with pytest.raises(serializers.ValidationError) as raised:
        validated(Example, data)
    assert field in raised.value.detail
    assert validated(Example, {}) == {"limit": 3}
