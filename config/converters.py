"""URL converters: ids that fit in PostgreSQL's bigint, so a 20-digit id is a 404, not a database overflow (500)."""

from __future__ import annotations


class IdConverter:
    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)
