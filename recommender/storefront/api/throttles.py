"""One throttle for shopper endpoints, its rate chosen by who is asking."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from config.client_ip import client_address
from config.roles import is_storefront


class ShopperRateThrottle(SimpleRateThrottle):
    """Anonymous shoppers get 'anon' per address; storefront tokens 'storefront'; other users 'user'.

    Rates are read per request from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    (DRF's own throttles bind them at import), so settings stay the one source.
    Counters live in the default cache, Redis, shared by every web process.
    """

    scope = "anon"

    def __init__(self) -> None:
        # The scope is only known per request: parse the rate in allow_request.
        pass

    def get_rate(self) -> str | None:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        return None if rate is None else str(rate)

    def allow_request(self, request: Request, view: Any) -> bool:
        self.scope = self._scope_for(request)
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    @staticmethod
    def _scope_for(request: Request) -> str:
        user = request.user
        if not user or not user.is_authenticated:
            return "anon"
        if is_storefront(user):
            return "storefront"
        return "user"

    def get_ident(self, request: Request) -> str:
        # The one client-address rule (NUM_PROXIES), shared with the sign-in lockout.
        return client_address(request._request)

    def get_cache_key(self, request: Request, view: Any) -> str:
        user = request.user
        ident = f"user-{user.pk}" if user and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
