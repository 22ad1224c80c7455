"""Who may use the catalogue API: config.roles' catalogue rule, per HTTP method and model."""

from __future__ import annotations

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from config.roles import may_edit_catalog

ACTION_OF_METHOD = {"GET": "view", "HEAD": "view", "OPTIONS": "view", "POST": "add", "PUT": "change"}
ACTION_OF_METHOD |= {"PATCH": "change", "DELETE": "delete"}


class CatalogPermission(BasePermission):
    """The view names its model (`catalog_model`); the method names the action."""

    message = "Writing the catalogue needs its permissions (the 'store-admins' group, or the model permission)."

    def has_permission(self, request: Request, view: APIView) -> bool:
        action = ACTION_OF_METHOD.get(request.method or "", "change")
        return may_edit_catalog(request.user, action, getattr(view, "catalog_model"))  # noqa: B009
