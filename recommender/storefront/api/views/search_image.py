from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from catalog.imaging import ImageRejected, inspect_image
from config.api import validated
from config.errors import ApiError
from config.parsers import BoundedJSONParser
from embeddings.selectors import ActiveEncoder
from recommender.storefront.api.params import ImageSearchParams, merchandising_rules, product_filters
from recommender.storefront.api.responses import ranked_response
from recommender.storefront.api.serializers import RankedListSerializer
from recommender.storefront.api.views.base import ShopperApi, error_responses, ranked_example
from recommender.storefront.selectors.encoding import image_query_vectors
from recommender.storefront.selectors.ranking import Ranking
from recommender.storefront.selectors.search import image_search
from recommender.storefront.selectors.spaces import Mode, VectorQuery, mode_weights, serving_encoders_retry
from recommender.storefront.selectors.summaries import result_page
from recommender.storefront.services import recommendation_log_create


def _photo_bytes(params: dict[str, Any]) -> bytes:
    upload = params.get("image")
    if upload is not None:
        # One byte over the limit is enough to refuse; never read a huge upload whole.
        return bytes(upload.read(settings.IMAGE_MAX_BYTES + 1))
    from catalog.fetching import FetchError, fetch_image_bytes

    try:
        return fetch_image_bytes(params["image_url"])
    except FetchError as exc:
        raise ApiError(
            "image_url_unreachable", f"image_url: {exc}", details={"image_url": params["image_url"]}
        ) from exc


class ImageSearchApi(ShopperApi):
    parser_classes = [MultiPartParser, FormParser, BoundedJSONParser]

    @extend_schema(
        operation_id="search_image",
        summary="Search products by photo",
        description=(
            "Send a photo (multipart field `image`) or its URL (`image_url`, JSON or form). It is embedded in "
            "the visual and semantic spaces and products are ranked as in /similar/ (mode, weights, filters, "
            "diversity, pagination; attribute filters as attr.<name> form fields or a JSON object "
            "`attributes`). The photo is not stored. No similarity ceiling: the photo may be of a listed product."
        ),
        request={
            "multipart/form-data": ImageSearchParams,
            "application/json": ImageSearchParams,
        },
        responses={200: RankedListSerializer, **error_responses(400, 429, 503)},
        examples=[
            OpenApiExample(
                "By URL",
                value={"image_url": "https://shop.example/photos/dress.jpg", "limit": 12, "in_stock": True},
                request_only=True,
                media_type="application/json",
            ),
            ranked_example(),
        ],
        tags=["storefront"],
    )
    def post(self, request: Request) -> Response:
        started = time.perf_counter()
        params = validated(ImageSearchParams, request.data)
        filters = product_filters(params, request.data)
        # The fetch, the decode and both models run before the transaction opens: none is held meanwhile.
        try:
            photo = inspect_image(
                _photo_bytes(params), max_bytes=settings.IMAGE_MAX_BYTES, max_pixels=settings.IMAGE_MAX_PIXELS
            )
        except ImageRejected as exc:
            raise ApiError(exc.code, f"image: {exc.message}") from exc
        mode = Mode(params["mode"])
        query = VectorQuery(
            mode=mode,
            weights=mode_weights(mode, params["visual_weight"], params["semantic_weight"]),
            filters=filters,
            diversity=params["diversity"],
            offset=params["offset"],
            limit=params["limit"],
            rules=merchandising_rules(params),
        )

        def rank(encoders: dict[str, ActiveEncoder]) -> Ranking:
            # Both models run outside any transaction: none is held meanwhile.
            return image_search(query, vectors=image_query_vectors(photo.image, encoders), encoders=encoders)

        page = result_page(serving_encoders_retry(rank))
        recommendation_id = recommendation_log_create(
            endpoint="search_image", params=params, product_ids=page.product_ids, strategy=page.strategy
        )
        return ranked_response(
            request, page=page, recommendation_id=recommendation_id, filters=filters, params=params, started=started
        )
