"""JSON-lines logs with the request id, and one access line per request.

LOG_FORMAT=json (the containers' default) writes every record as one JSON
object: time, level, logger, message, and the request id of the request being
answered (or the Celery task id in a worker). The access line adds the method,
route, status, duration and, for a ranked list, its recommendation_id and
strategy, so a shopper's complaint ("these recommendations are wrong") leads
from the id in the response to the log line and the recommendation log row.

The request id is the caller's X-Request-ID when it sends a sane one (a proxy
or the storefront's own id), else a new one; it goes back in the response's
X-Request-ID header.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse

REQUEST_ID_HEADER = "X-Request-ID"
# A caller's id is kept only when it cannot smuggle anything into a log line or a header.
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
access_logger = logging.getLogger("lookalike.access")

# Attributes every LogRecord has; anything else on a record was passed as `extra=` and is logged too.
_RECORD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def current_request_id() -> str | None:
    return _request_id.get()


class JsonFormatter(logging.Formatter):
    """One JSON object per line; `extra=` fields become keys of their own."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = _request_id.get()
        if request_id:
            entry["request_id"] = request_id
        task_id = _celery_task_id()
        if task_id:
            entry["task_id"] = task_id
        entry.update({key: value for key, value in vars(record).items() if key not in _RECORD_FIELDS})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _celery_task_id() -> str | None:
    from celery import current_task

    request = getattr(current_task, "request", None) if current_task else None
    return getattr(request, "id", None)


def ranked_list_fields(response: HttpResponse) -> dict[str, str]:
    """The recommendation id and strategy of a ranked-list response (DRF keeps its data on the response)."""
    data = getattr(response, "data", None)
    if not isinstance(data, dict) or not isinstance(data.get("diagnostics"), dict):
        return {}
    fields = {"strategy": str(data["diagnostics"].get("strategy") or "none")}
    if data.get("recommendation_id"):
        fields["recommendation_id"] = str(data["recommendation_id"])
    return fields


def route_name(request: HttpRequest) -> str:
    """The URL pattern's name (bounded: never the path, which holds ids); 'unmatched' when none matched."""
    match = getattr(request, "resolver_match", None)
    return str(match.view_name) if match is not None and match.view_name else "unmatched"


class RequestLogMiddleware:
    """Outermost: gives the request its id, answers with it, and writes the access line."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = offered if _SANE_ID.match(offered) else uuid.uuid4().hex
        token = _request_id.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            access_logger.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "route": route_name(request),
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    **ranked_list_fields(response),
                },
            )
            return response
        finally:
            _request_id.reset(token)


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """Django's LOGGING (and gunicorn's logconfig_dict): JSON lines or plain text to stderr."""
    # Text keeps what the console always showed: the message alone.
    formatter = {"()": "config.logs.JsonFormatter"} if log_format == "json" else {"format": "%(message)s"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "default"}},
        "root": {"handlers": ["console"], "level": level},
    }


def celery_logging_connect(*, log_format: str) -> None:
    """With JSON logs, a worker logs through Django's LOGGING too (Celery's own setup would write text)."""
    if log_format != "json":
        return
    from celery.signals import setup_logging

    setup_logging.connect(_celery_logging, weak=False, dispatch_uid="lookalike-json-logs")


def _celery_logging(**kwargs: Any) -> None:
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
