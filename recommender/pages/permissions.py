"""Who may open the merchandiser views: staff, or members of the 'merchandisers' group."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase

MERCHANDISERS_GROUP = "merchandisers"

View = Callable[..., HttpResponseBase]


def is_merchandiser(user: Any) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return bool(user.is_staff or user.groups.filter(name=MERCHANDISERS_GROUP).exists())


def merchandiser_required(view: View) -> View:
    """Anonymous visitors go to the login page; signed-in shoppers get a 403 page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_merchandiser(request.user):
            raise PermissionDenied("Merchandiser views need a staff account or the 'merchandisers' group.")
        return view(request, *args, **kwargs)

    return wrapper
