"""The merchandiser pages' door: config.roles decides who is a merchandiser, this turns the others away."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase

from config.roles import MERCHANDISERS, is_merchandiser

View = Callable[..., HttpResponseBase]


def merchandiser_required(view: View) -> View:
    """Anonymous visitors go to the login page; signed-in shoppers get a 403 page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_merchandiser(request.user):
            raise PermissionDenied(f"Merchandiser views need a staff account or the '{MERCHANDISERS}' group.")
        return view(request, *args, **kwargs)

    return wrapper
