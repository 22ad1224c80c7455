"""The whole project's OpenAPI document: generated without a warning, valid, every route described."""

from __future__ import annotations

from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema


def test_the_project_schema_generates_without_warnings_and_validates() -> None:
    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert not GENERATOR_STATS, "drf-spectacular warned or erred while generating the schema"
    validate_schema(schema)
    paths = set(schema["paths"])
    for route in (
        "/api/v1/products/",
        "/api/v1/products/{product_id}/similar/",
        "/api/v1/search/",
        "/api/v1/search/image/",
        "/api/v1/recommendations/",
        "/api/v1/duplicates/",
        "/api/v1/events/",
    ):
        assert route in paths, f"{route} missing from the OpenAPI document"
