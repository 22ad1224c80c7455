"""The duplicate-review API: list groups, resolve one, restore one. Merchandisers and staff only."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import User
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import page_envelope, validated
from config.errors import ApiError, ErrorSerializer
from config.roles import is_merchandiser
from recommender.duplicates import selectors
from recommender.duplicates.api.serializers import (
    STATUS_ALL,
    GroupPageSerializer,
    GroupSerializer,
    QueueParams,
    ResolveInput,
)
from recommender.duplicates.decisions import DecisionError, duplicate_group_resolve, duplicate_group_restore
from recommender.duplicates.models import DuplicateGroup

_DECISION_STATUS = {"not_found": 404, "already_resolved": 409, "not_restorable": 409}
_ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="A bad parameter or body; the message names it."),
    401: OpenApiResponse(ErrorSerializer, description="No or bad credentials."),
    403: OpenApiResponse(ErrorSerializer, description="Only merchandisers and staff review duplicates."),
    404: OpenApiResponse(ErrorSerializer, description="No such group (it may have been regrouped)."),
    409: OpenApiResponse(ErrorSerializer, description="The group is not in a state that allows this decision."),
}


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: _ERRORS[code] for code in codes}


class IsMerchandiser(permissions.BasePermission):
    message = "Only merchandisers (the 'merchandisers' group) and staff can review duplicate listings."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return is_merchandiser(request.user)


def _group_response(request: Request, group_id: int) -> Response:
    group = selectors.duplicate_group_get(group_id)
    if group is None:
        raise ApiError("not_found", f"Duplicate group {group_id} does not exist.", status_code=404)
    return Response(GroupSerializer(group, context={"request": request}).data)


def _decide(request: Request, group_id: int, decide: Callable[[User | None], object]) -> Response:
    """Run a decision service as the requesting user; answer with the group as it now is."""
    try:
        decide(request.user if isinstance(request.user, User) else None)
    except DecisionError as error:
        status = _DECISION_STATUS.get(error.code, 400)
        raise ApiError(error.code, error.message, status_code=status, details=error.details) from None
    return _group_response(request, group_id)


class MerchandiserApi(APIView):
    permission_classes = [IsMerchandiser]


class DuplicateQueueApi(MerchandiserApi):
    @extend_schema(
        operation_id="duplicates_list",
        summary="Duplicate groups to review",
        parameters=[QueueParams],
        responses={200: GroupPageSerializer, **_errors(400, 401, 403)},
        tags=["duplicates"],
    )
    def get(self, request: Request) -> Response:
        params = validated(QueueParams, request.query_params)
        status = None if params["status"] == STATUS_ALL else params["status"]
        groups = selectors.duplicate_groups_queue(
            tier=params.get("tier"), status=status, category_id=params.get("category")
        )
        offset, limit = params["offset"], params["limit"]
        count = groups.count()
        page: list[DuplicateGroup] = list(groups[offset : offset + limit])
        payload = {
            "count": count,
            **page_envelope(offset=offset, limit=limit, has_more=offset + limit < count),
            "results": page,
        }
        return Response(GroupPageSerializer(payload, context={"request": request}).data)


class DuplicateGroupApi(MerchandiserApi):
    @extend_schema(
        operation_id="duplicates_get", responses={200: GroupSerializer, **_errors(401, 403, 404)}, tags=["duplicates"]
    )
    def get(self, request: Request, group_id: int) -> Response:
        return _group_response(request, group_id)


class DuplicateResolveApi(MerchandiserApi):
    @extend_schema(
        operation_id="duplicates_resolve",
        summary="Decide a group: duplicate (keep one, deactivate the others) or not_duplicate (remembered)",
        request=ResolveInput,
        responses={200: GroupSerializer, **_errors(400, 401, 403, 404, 409)},
        tags=["duplicates"],
    )
    def post(self, request: Request, group_id: int) -> Response:
        data = validated(ResolveInput, request.data)
        return _decide(
            request,
            group_id,
            lambda actor: duplicate_group_resolve(
                group_id=group_id, decision=data["decision"], keep_product_id=data.get("keep"), actor=actor
            ),
        )


class DuplicateRestoreApi(MerchandiserApi):
    @extend_schema(
        operation_id="duplicates_restore",
        summary="Undo a duplicate decision: reactivate the listings it deactivated and reopen the group",
        request=None,
        responses={200: GroupSerializer, **_errors(401, 403, 404, 409)},
        tags=["duplicates"],
    )
    def post(self, request: Request, group_id: int) -> Response:
        return _decide(request, group_id, lambda actor: duplicate_group_restore(group_id=group_id, actor=actor))
