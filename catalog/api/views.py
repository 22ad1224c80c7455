"""Catalog write API for store staff: thin views over catalog.services."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import selectors, services
from catalog.api.permissions import CatalogPermission
from catalog.api.serializers import (
    ImageOutputSerializer,
    ImageUploadSerializer,
    ProductInputSerializer,
    ProductOutputSerializer,
)
from catalog.imaging import ImageRejected
from config.api import validated
from config.errors import ApiError, ErrorSerializer
from config.parsers import BoundedJSONParser

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input; the message names the problem."),
    401: OpenApiResponse(ErrorSerializer, description="No or bad credentials."),
    403: OpenApiResponse(
        ErrorSerializer, description="The catalogue permissions are missing (store admins have them)."
    ),
    404: OpenApiResponse(ErrorSerializer, description="No such product or photo."),
}
PRODUCT_EXAMPLE = OpenApiExample(
    "A product",
    request_only=True,
    value={
        "sku": "TEE-001-RED",
        "title": "Red cotton T-shirt",
        "brand": "Northwind",
        "category": "t-shirts-tops",
        "price": "19.90",
        "currency": "EUR",
        "stock": 12,
        "attributes": {"colour": "red", "material": "cotton"},
        "product_group": "TEE-001",
        "seller": "Northwind Outlet",
    },
)


def invalid(exc: ValidationError) -> ApiError:
    """A model validation error from a service, as the API's 400 envelope."""
    details = {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}
    field, messages = next(iter(details.items()))
    return ApiError("invalid", f"{field}: {messages[0]}", details=details)


def product_response(request: Request, product_id: int, http_status: int = status.HTTP_200_OK) -> Response:
    product = selectors.product_get_with_images(product_id)
    return Response(ProductOutputSerializer(product, context={"request": request}).data, status=http_status)


class ProductCreateApi(APIView):
    permission_classes = [CatalogPermission]
    catalog_model = "product"

    @extend_schema(
        operation_id="product_create",
        tags=["catalog"],
        request=ProductInputSerializer,
        responses={201: ProductOutputSerializer, **ERRORS},
        examples=[PRODUCT_EXAMPLE],
        summary="Create a product (staff).",
    )
    def post(self, request: Request) -> Response:
        data = validated(ProductInputSerializer, request.data)
        try:
            product = services.product_create(**data)
        except ValidationError as exc:
            raise invalid(exc) from None
        return product_response(request, product.pk, status.HTTP_201_CREATED)


class ProductDetailApi(APIView):
    permission_classes = [CatalogPermission]
    catalog_model = "product"
    parser_classes = [BoundedJSONParser, FormParser, MultiPartParser]

    @extend_schema(
        operation_id="product_retrieve",
        tags=["catalog"],
        responses={200: ProductOutputSerializer, **ERRORS},
        summary="A product with each photo's thumbnails and embedding status/error (staff).",
    )
    def get(self, request: Request, product_id: int) -> Response:
        return product_response(request, product_id)

    @extend_schema(
        operation_id="product_update",
        tags=["catalog"],
        request=ProductInputSerializer(partial=True),
        responses={200: ProductOutputSerializer, **ERRORS},
        examples=[OpenApiExample("Price and stock", request_only=True, value={"price": "17.50", "stock": 3})],
        summary="Change some fields of a product (staff).",
    )
    def patch(self, request: Request, product_id: int) -> Response:
        product = selectors.product_get(product_id)
        changes = validated(ProductInputSerializer, request.data, partial=True)
        try:
            services.product_update(product=product, **changes)
        except ValidationError as exc:
            raise invalid(exc) from None
        return product_response(request, product.pk)

    @extend_schema(
        operation_id="product_delete",
        tags=["catalog"],
        responses={204: None, **ERRORS},
        summary="Delete a product with its photos and vectors (staff).",
    )
    def delete(self, request: Request, product_id: int) -> Response:
        services.product_delete(product=selectors.product_get(product_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProductImageCreateApi(APIView):
    permission_classes = [CatalogPermission]
    catalog_model = "productimage"
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="product_image_create",
        tags=["catalog"],
        request={"multipart/form-data": ImageUploadSerializer},
        responses={
            201: OpenApiResponse(ImageOutputSerializer, description="Stored; embedding is pending."),
            200: OpenApiResponse(ImageOutputSerializer, description="These bytes are already a photo of it."),
            **ERRORS,
            503: OpenApiResponse(ErrorSerializer, description="Photo storage refused the file; nothing stored."),
            507: OpenApiResponse(ErrorSerializer, description="Photo storage is full; nothing stored."),
        },
        summary="Upload a photo of a product (staff); it is searchable seconds later.",
    )
    def post(self, request: Request, product_id: int) -> Response:
        product = selectors.product_get(product_id)
        data = validated(ImageUploadSerializer, request.data)
        upload: Any = data["image"]
        try:
            added = services.product_image_add(product=product, data=read_upload(upload), position=data.get("position"))
        except ImageRejected as exc:
            # "field: problem", as every 400 of the envelope words it (search by photo says "image: ..." too).
            raise ApiError(exc.code, f"image: {exc.message}", details={"image": [exc.message]}) from None
        except services.StorageUnavailable as exc:
            raise ApiError(exc.code, exc.message, status_code=exc.status) from None
        body = ImageOutputSerializer(added.image, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED if added.created else status.HTTP_200_OK)


def read_upload(upload: Any) -> bytes:
    """The uploaded bytes, refusing oversized files before reading them into memory."""
    if upload.size is not None and upload.size > settings.IMAGE_MAX_BYTES:
        message = f"The file is {upload.size} bytes; the limit is {settings.IMAGE_MAX_BYTES} bytes."
        raise ApiError("image_too_large", f"image: {message}", details={"image": [message]})
    data: bytes = upload.read()
    return data


class ProductImageDeleteApi(APIView):
    permission_classes = [CatalogPermission]
    catalog_model = "productimage"

    @extend_schema(
        operation_id="product_image_delete",
        tags=["catalog"],
        responses={204: None, **ERRORS},
        summary="Delete a photo; the product's vectors are recomputed from the rest (staff).",
    )
    def delete(self, request: Request, product_id: int, image_id: int) -> Response:
        services.product_image_delete(image=selectors.product_image_get(product_id=product_id, image_id=image_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
