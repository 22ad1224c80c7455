"""Request bodies bounded before they are parsed, and text the database could not store refused by name.

A JSON body nested 100,000 deep made json.loads recurse until Python gave up
(a 500); a NUL character in a string made PostgreSQL refuse the row (a 500,
and for JSONB a half-done request). Both are the client's mistake and get a 400
in the one envelope, naming the problem, before anything reaches a view.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from django.conf import settings
from django.http import QueryDict
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from config.errors import ApiError

_OPENERS = frozenset(b"[{")
_CLOSERS = frozenset(b"]}")


def json_depth(body: bytes) -> int:
    """How deeply `body`'s arrays and objects nest, counted without parsing (brackets inside strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in _OPENERS:
            depth += 1
            deepest = max(deepest, depth)
        elif byte in _CLOSERS:
            depth -= 1
    return deepest


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, text) for every string in a parsed JSON value or a QueryDict, keys included."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, QueryDict):
        for key, items in value.lists():
            yield key, key
            for item in items:
                yield from _strings(item, key)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            yield name, str(key)
            yield from _strings(item, name)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]" if path else f"[{index}]")


def refuse_nul_characters(data: Any) -> None:
    """A 400 naming the first field whose text holds a NUL character (PostgreSQL text and JSONB cannot)."""
    for path, text in _strings(data, ""):
        if "\x00" in text:
            raise serializers.ValidationError({path or "body": ["must not contain NUL characters (\\u0000)."]})


class BoundedJSONParser(JSONParser):
    """JSON no larger than API_MAX_JSON_BYTES, no deeper than API_MAX_JSON_DEPTH, with no NUL in any string."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        limit = settings.API_MAX_JSON_BYTES
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise ApiError("too_large", f"The JSON body is larger than {limit} bytes.", status_code=413)
        depth = json_depth(body)
        if depth > settings.API_MAX_JSON_DEPTH:
            raise ParseError(f"JSON nested {depth} levels deep; at most {settings.API_MAX_JSON_DEPTH} are accepted.")
        try:
            data = json.loads(body.decode(settings.DEFAULT_CHARSET)) if body.strip() else {}
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        refuse_nul_characters(data)
        return data
