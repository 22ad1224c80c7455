"""Who may scrape: a caller with the bearer token (METRICS_TOKEN) or an address in METRICS_ALLOWED_NETWORKS.

Neither set means nobody: the metrics name the catalogue's size and traffic, which
is no shopper's business, so they are off until an operator says who reads them.
The web endpoint judges the address by config/client_ip.py's rule (so a client
behind NUM_PROXIES proxies cannot claim an address with X-Forwarded-For); the
worker's endpoint has no proxy in front and uses the peer address.
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings


def scrape_configured() -> bool:
    return bool(settings.METRICS_TOKEN or settings.METRICS_ALLOWED_NETWORKS)


def scrape_allowed(*, address: str, authorization: str) -> bool:
    token = settings.METRICS_TOKEN
    if token and hmac.compare_digest(authorization.encode(), f"Bearer {token}".encode()):
        return True
    try:
        caller = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(caller in ipaddress.ip_network(network, strict=False) for network in settings.METRICS_ALLOWED_NETWORKS)
