from __future__ import annotations

import pytest
from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

STOREFRONT = {
    "/api/v1/products/{product_id}/similar/": "get",
    "/api/v1/search/": "get",
    "/api/v1/search/image/": "post",
    "/api/v1/recommendations/": "post",
}


@pytest.fixture
def schema() -> dict:
    # The storefront routes alone: this test answers for them, whatever other apps' schemas say.
    GENERATOR_STATS.reset()
    generator = SchemaGenerator(patterns=[path("api/v1/", include("recommender.storefront.api.urls"))])
    generated = generator.get_schema(request=None, public=True)
    assert not GENERATOR_STATS, "drf-spectacular warned or erred while generating the storefront schema"
    return generated


def test_the_storefront_schema_generates_without_warnings_and_validates(schema: dict) -> None:
    validate_schema(schema)
    for route, method in STOREFRONT.items():
        assert method in schema["paths"][route]


def test_every_storefront_endpoint_documents_its_responses_and_examples(schema: dict) -> None:
    for route, method in STOREFRONT.items():
        operation = schema["paths"][route][method]
        assert {"200", "400", "429"} <= set(operation["responses"]), route
        content = operation["responses"]["200"]["content"]["application/json"]
        assert content["schema"] == {"$ref": "#/components/schemas/RankedList"}
        assert content.get("examples"), route


def test_query_parameters_and_bodies_are_described(schema: dict) -> None:
    similar = {p["name"] for p in schema["paths"]["/api/v1/products/{product_id}/similar/"]["get"]["parameters"]}
    assert {
        "limit",
        "offset",
        "mode",
        "visual_weight",
        "category",
        "in_stock",
        "max_similarity",
        "attr.color",
    } <= similar
    search = {p["name"] for p in schema["paths"]["/api/v1/search/"]["get"]["parameters"]}
    assert {"q", "text_weight", "limit"} <= search
    image = schema["paths"]["/api/v1/search/image/"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "application/json"} <= set(image)
    recommendations = schema["paths"]["/api/v1/recommendations/"]["post"]["requestBody"]["content"]["application/json"]
    assert recommendations["schema"] == {"$ref": "#/components/schemas/RecommendationParamsRequest"}
