"""One JSON error envelope for every API error.

`{"error": {"code": "...", "message": "...", "details": {...}}}`
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError, connection
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler


class ErrorBodySerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


class ErrorSerializer(serializers.Serializer[Any]):
    """The envelope, for OpenAPI responses: every endpoint documents its errors with it."""

    error = ErrorBodySerializer()


class ApiError(exceptions.APIException):
    """Raise from services/views with a stable machine-readable code."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status_code: int = 400,
        details: dict[str, Any] | None = None,
        wait: int | None = None,
    ):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.details = details or {}
        # Seconds to come back after: DRF's handler sends it as the Retry-After header.
        self.wait = wait


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def _first_problem(details: Any, path: str = "") -> tuple[str, str] | None:
    """(where, what) of the first problem in flattened validation details, nested serializers and lists
    included: ("filters.attributes.color", "Not a valid string."), ("viewed[0]", "Ensure this value ...")."""
    if isinstance(details, dict):
        for key, value in details.items():
            if key == "non_field_errors":
                where = path
            elif isinstance(key, int) or (path and str(key).isdigit()):
                where = f"{path}[{key}]"
            else:
                where = f"{path}.{key}" if path else str(key)
            found = _first_problem(value, where)
            if found is not None:
                return found
        return None
    if isinstance(details, list):
        # A list of messages, or (many=True) one entry per item, {} for the items that were fine.
        for index, item in enumerate(details):
            nested = isinstance(item, (dict, list))
            found = _first_problem(item, f"{path}[{index}]" if nested else path)
            if found is not None:
                return found
        return None
    return path, str(details)


def _message_for(exc: exceptions.APIException, details: Any) -> str:
    if isinstance(exc, exceptions.ValidationError):
        found = _first_problem(details)
        if found is not None:
            where, what = found
            return f"{where}: {what}" if where else what
    return str(exc.detail) if not isinstance(exc.detail, (dict, list)) else "Invalid request."


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, OperationalError | InterfaceError):
        # The database went away mid-request (a restart, a failover): a 503 to retry, not a 500.
        # Its connection is dropped, so the next request opens a fresh one.
        connection.close_if_unusable_or_obsolete()
        exc = ApiError(
            "database_unavailable", "The database cannot be reached; retry shortly.", status_code=503, wait=5
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, ApiError):
        body = {"code": exc.error_code, "message": str(exc.detail), "details": exc.details}
    else:
        details = _flatten(exc.detail)
        code = exc.get_codes()
        code_str = code if isinstance(code, str) else ("invalid" if response.status_code == 400 else "error")
        body = {
            "code": code_str,
            "message": _message_for(exc, details),
            "details": details if isinstance(details, dict) else {},
        }
        wait = getattr(exc, "wait", None)
        if isinstance(exc, exceptions.Throttled) and wait is not None:
            body["details"] = {"retry_after_seconds": int(wait + 0.999)}
    response.data = {"error": body}
    return response


@csrf_exempt
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """No API route matched: the envelope, not Django's HTML page (in DEBUG too).

    CSRF-exempt like every DRF view: it changes nothing, and without it a POST to a path
    that names no resource (an id that is no id) got the CSRF middleware's HTML 403, not a 404.
    """
    message = f"No API endpoint matches {request.path}."
    return JsonResponse({"error": {"code": "not_found", "message": message, "details": {}}}, status=404)
