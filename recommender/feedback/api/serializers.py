"""The events API's shapes, and the batch's validation event by event (so that a problem names its event)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rest_framework import serializers

from config.api import id_field
from config.errors import ApiError
from recommender.feedback.models import EventType
from recommender.feedback.services import EventInput, Problem, feedback_events_check

CLIENT_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"


class EventSerializer(serializers.Serializer[Any]):
    type = serializers.ChoiceField(choices=EventType.choices)
    product_id = id_field(help_text="The product the shopper acted on.")
    recommendation_id = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="The recommendation_id of the storefront response that showed the product; "
        "absent for an action that no list led to.",
    )
    client_id = serializers.RegexField(
        CLIENT_ID_PATTERN,
        max_length=64,
        help_text="The shopper's id as the client knows it (a random id kept in the browser): 1-64 of "
        "letters, digits and . _ : -",
    )
    event_id = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="The client's own id for this event: sending it again stores nothing twice.",
    )


class EventBatchSerializer(serializers.Serializer[Any]):
    events = EventSerializer(many=True, help_text="Up to 500 events for a storefront token, 20 otherwise.")


class RecordedSerializer(serializers.Serializer[Any]):
    stored = serializers.IntegerField(help_text="Events stored now.")
    duplicates = serializers.IntegerField(help_text="Events whose event_id was already stored (not stored again).")


def rejected(problems: list[Problem]) -> ApiError:
    """The one 400 for a batch with bad events: the first problem in the message, all of them in the details."""
    first = problems[0]
    return ApiError(
        "invalid_events",
        f"events[{first.index}].{first.field}: {first.message}; nothing was stored.",
        details={"problems": [problem.__dict__ for problem in problems]},
    )


def _problem(index: int, errors: dict[str, Any]) -> Problem:
    field, messages = next(iter(errors.items()))
    detail = messages[0] if isinstance(messages, list) and messages else messages
    code = getattr(detail, "code", "invalid")
    if field == "type" and code == "invalid_choice":
        code = "unknown_event_type"
    return Problem(index=index, field=field, code=str(code), message=str(detail).rstrip("."))


def validated_events(data: Any, *, max_events: int) -> list[EventInput]:
    """The batch as EventInputs; an ApiError (400) naming every malformed event otherwise."""
    events = data.get("events") if isinstance(data, dict) else None
    if not isinstance(events, list) or not events:
        raise ApiError("invalid", "events: send a non-empty list of events.", details={"events": ["required"]})
    if len(events) > max_events:
        raise ApiError(
            "too_many_events",
            f"events: at most {max_events} events per request for this caller, got {len(events)}.",
            details={"max_events": max_events, "sent": len(events)},
        )
    problems, parsed, positions = [], [], []
    for index, raw in enumerate(events):
        serializer = EventSerializer(data=raw)
        if not serializer.is_valid():
            problems.append(_problem(index, serializer.errors))
            continue
        values = serializer.validated_data
        positions.append(index)
        parsed.append(
            EventInput(
                event_type=values["type"],
                product_id=values["product_id"],
                client_id=values["client_id"],
                recommendation_id=values.get("recommendation_id"),
                event_id=values.get("event_id"),
            )
        )
    if problems:
        # The well-formed events are checked too, so one answer names every event to drop.
        checked = [replace(problem, index=positions[problem.index]) for problem in feedback_events_check(parsed)]
        raise rejected(sorted(problems + checked, key=lambda problem: problem.index))
    return parsed
