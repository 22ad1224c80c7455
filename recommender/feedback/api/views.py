"""POST /api/v1/events/: shoppers' actions on the products the storefront showed them."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import ErrorSerializer
from config.parsers import BoundedJSONParser
from config.roles import is_storefront
from recommender.feedback.api.serializers import EventBatchSerializer, RecordedSerializer, rejected, validated_events
from recommender.feedback.api.throttles import EventRateThrottle
from recommender.feedback.services import EventsRejected, feedback_events_record

# A storefront's server forwards its shoppers' events in batches; a browser sends its own few.
STOREFRONT_BATCH = 500
SHOPPER_BATCH = 20

_EXAMPLE = {
    "events": [
        {
            "type": "click",
            "product_id": 877,
            "recommendation_id": "0b6f0c1e-2f8e-4c1a-9d1f-5b0e7a1c9e42",
            "client_id": "c-5f2a9d",
            "event_id": "5d1b8e0a-7c3f-4b7e-9a57-0c1f2d3e4a5b",
        },
        {"type": "view", "product_id": 877, "client_id": "c-5f2a9d"},
    ]
}


class EventsApi(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [EventRateThrottle]
    parser_classes = [BoundedJSONParser]

    @extend_schema(
        operation_id="events_create",
        summary="Record shoppers' actions",
        description=(
            "view, click, add_to_cart and purchase events, each naming its product and, when a storefront "
            "list showed it, that response's recommendation_id. Anonymous shoppers (and signed-in users) send "
            f"up to {SHOPPER_BATCH} events per request, storefront tokens up to {STOREFRONT_BATCH}; "
            "throttled like the storefront's reads, in buckets of their own. All or nothing: one bad event "
            "(an unknown type, product or recommendation, or a recommendation that did not show the product) "
            "is a 400 naming every bad event, and nothing is stored."
        ),
        request=EventBatchSerializer,
        responses={
            201: RecordedSerializer,
            400: OpenApiResponse(ErrorSerializer, description="A bad batch; the details list every bad event."),
            413: OpenApiResponse(ErrorSerializer, description="The body is larger than API_MAX_JSON_BYTES."),
            415: OpenApiResponse(ErrorSerializer, description="The body is not JSON."),
            429: OpenApiResponse(ErrorSerializer, description="Throttled; the Retry-After header says when."),
        },
        examples=[OpenApiExample("A click and a view", value=_EXAMPLE, request_only=True)],
        tags=["storefront"],
    )
    def post(self, request: Request) -> Response:
        limit = STOREFRONT_BATCH if is_storefront(request.user) else SHOPPER_BATCH
        events = validated_events(request.data, max_events=limit)
        try:
            recorded = feedback_events_record(events=events)
        except EventsRejected as exc:
            raise rejected(exc.problems) from None
        return Response(RecordedSerializer(recorded).data, status=201)
