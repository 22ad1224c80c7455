"""The events' throttle: the shoppers' throttle, its rates and its client-address rule, in buckets of its own."""

from __future__ import annotations

from recommender.storefront.api.throttles import ShopperRateThrottle


class EventRateThrottle(ShopperRateThrottle):
    """THROTTLE_ANON / THROTTLE_USER / THROTTLE_STOREFRONT per caller, as for the storefront's reads.

    Counted apart from those reads: a page that reports its views must not use up the
    budget its shopper's next search needs. Anonymous callers are counted by address
    (config/client_ip.py), never by their client_id, which they choose.
    """

    cache_format = "throttle_events_%(scope)s_%(ident)s"
