"""Which address a request comes from: one rule for the throttles and the sign-in lockout.

The peer address, unless NUM_PROXIES proxies stand in front of the web
processes; then the address the nearest of them appended to X-Forwarded-For
(the NUM_PROXIES-th from the right). Anything further left was written by the
client and proves nothing: trusting it let a client choose its own throttle
bucket by changing the header.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    peer = str(request.META.get("REMOTE_ADDR", ""))
    proxies = settings.NUM_PROXIES
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    if proxies == 0 or not forwarded:
        return peer
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    return hops[-min(proxies, len(hops))] if hops else peer
