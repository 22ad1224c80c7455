"""One throttle for shopper endpoints, its rate chosen by who is asking.

Counted in Redis in fixed windows of the rate's period: a request costs one
round trip (SET the window's counter if absent, INCR it, pipelined) whatever
the rate. DRF's SimpleRateThrottle keeps every request's timestamp in one
cached list that each request reads, unpickles, rewrites and pickles again:
two round trips and, for a storefront token at 6,000/min, a list of 6,000
floats per request. A fixed window lets a caller spend up to twice the rate
across a window's edge; the rate is a guard against abuse, not a quota.
"""

from __future__ import annotations

import logging
import math
import time
from functools import cache
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache as django_cache
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from config.client_ip import client_address
from config.roles import is_storefront

logger = logging.getLogger(__name__)
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@cache
def counters_client(url: str) -> redis.Redis:
    # One client (and its connection pool) per process; redis-py opens a new pool after a fork.
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


def parse_rate(rate: str) -> tuple[int, int]:
    """'120/min' -> (120, 60): requests per period in seconds (DRF's spelling: s, m, h, d)."""
    count, period = rate.split("/")
    return int(count), PERIODS[period[0]]


class ShopperRateThrottle(BaseThrottle):
    """Anonymous shoppers get 'anon' per address; storefront tokens 'storefront'; other users 'user'.

    Rates are read per request from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    (DRF's own throttles bind them at import), so settings stay the one source.
    Counters live in the cache's Redis (CACHE_URL, under its key prefix), shared by
    every web process. Redis down: the request is served and a warning logged, so
    the storefront does not fail with the store that only guards it.
    """

    cache_format = "throttle_%(scope)s_%(ident)s"

    def __init__(self) -> None:
        self._retry_after: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        scope = self._scope_for(request)
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(scope)
        if rate is None:
            return True
        allowed, period = parse_rate(str(rate))
        now = time.time()
        window = int(now // period)
        ident = self.cache_format % {"scope": scope, "ident": self._ident(request)}
        key = django_cache.make_key(f"{ident}:{window}")
        counters = counters_client(settings.CACHE_URL)
        try:
            # SET NX starts the window's counter with its expiry; INCR keeps the expiry. One round trip.
            pipe = counters.pipeline(transaction=False)
            pipe.set(key, 0, ex=period + 1, nx=True)
            pipe.incr(key)
            made = int(pipe.execute()[1])
            if made <= allowed:
                return True
            # A refused request is not counted: the caller gets its rate back when the window turns.
            counters.decr(key)
        except redis.RedisError as exc:
            logger.warning("throttle counters unavailable, request served unthrottled: %s", exc)
            return True
        self._retry_after = (window + 1) * period - now
        return False

    def wait(self) -> float | None:
        return None if self._retry_after is None else float(math.ceil(self._retry_after))

    @staticmethod
    def _scope_for(request: Request) -> str:
        user = request.user
        if not user or not user.is_authenticated:
            return "anon"
        if is_storefront(user):
            return "storefront"
        return "user"

    @staticmethod
    def _ident(request: Request) -> str:
        # Signed-in callers by account; others by the one client-address rule (NUM_PROXIES),
        # shared with the sign-in lockout.
        user = request.user
        return f"user-{user.pk}" if user and user.is_authenticated else client_address(request._request)
