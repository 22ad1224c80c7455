"""Small per-process caches whose entries expire: what a web process may remember between requests.

The storefront answers the same few questions on every product page (which
encoders are active, how selective "in stock" is, which id the slug "dresses"
names); each answer is a database round trip and changes rarely. A process
remembers each for a few seconds to a minute. Every user of a cache says what a
stale entry costs (for all of them: a slower path or a retry, never a wrong
answer). `forget_all()` empties every cache (tests build a new catalogue each).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_all: list[ProcessCache[object, object]] = []


class ProcessCache(Generic[K, V]):
    def __init__(self, *, ttl_seconds: float, max_entries: int = 10_000) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        # Guards the dict between a gthread worker's threads. Two threads missing the same key both
        # compute it: one duplicate round trip, never a wrong entry.
        self._lock = threading.Lock()
        self._entries: dict[K, tuple[float, V]] = {}
        _all.append(self)  # type: ignore[arg-type]

    def get(self, key: K, compute: Callable[[], V]) -> V:
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = compute()
        self.put(key, value)
        return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries:  # a bound, should clients send endless distinct keys
                self._entries.clear()
            self._entries[key] = (time.monotonic() + self.ttl_seconds, value)

    def forget(self, key: K | None = None) -> None:
        with self._lock:
            if key is None:
                self._entries.clear()
            else:
                self._entries.pop(key, None)


def forget_all() -> None:
    for cache in _all:
        cache.forget()
