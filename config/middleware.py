"""Refuse a request body that is too large from its Content-Length, before a byte of it is read.

Without this, a 120 MiB anonymous upload was read (to a temporary file) in
full before the photo-size check refused it. Django reads no body that
announces no length (a chunked body without Content-Length is treated as
empty), so the header is the whole question.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


class RequestSizeLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # Django treats a malformed length as no body, and reads none
        limit = settings.REQUEST_MAX_BYTES
        if length > limit:
            message = f"The request body is {length} bytes; at most {limit} are accepted (REQUEST_MAX_BYTES)."
            response = JsonResponse({"error": {"code": "too_large", "message": message, "details": {}}}, status=413)
            # The unread body must not be taken for the next request on a kept-alive connection.
            response["Connection"] = "close"
            return response
        return self.get_response(request)
