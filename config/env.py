"""Typed readers for environment variables.

Every setting comes from the environment through these helpers so that a typo
or a bad value stops the process at start-up with the variable's name in the
message, instead of surfacing later as a confusing driver error.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping, Sequence

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no, on/off), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be <= {maximum}, got {value}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None, maximum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if math.isnan(value):  # NaN compares false with any bound: it would pass them all
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}")
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be <= {maximum}, got {value}")
    return value


def env_list(name: str, default: Sequence[str] = ()) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: Sequence[str]) -> str:
    value = env_str(name, default) or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


_warned_renames: set[str] = set()


def env_renamed(new: str, old: str) -> str:
    """The name to read for a renamed variable: `new`, or `old` (with a one-line warning) while only it is set.

    Old names keep working for one release so that a deployment survives the
    upgrade; the warning says what to rename.
    """
    if new in os.environ or old not in os.environ:
        return new
    if old not in _warned_renames:
        _warned_renames.add(old)
        # One stderr line, not warnings.warn: DeprecationWarning is hidden outside __main__.
        sys.stderr.write(f"warning: {old} is deprecated and will stop working in the next release; rename it {new}\n")
    return old


def env_thresholds(name: str, defaults: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """Per-encoder duplicate thresholds: `defaults` overridden by `NAME=enc=NEAR/SIMILAR[/HASHED[/TITLED]],...`.

    HASHED, when given, is the visual floor at which a close pHash makes a near-duplicate, and
    TITLED the one at which the same title and brand do (recommender.duplicates.thresholds);
    without them those rules are off for the encoder.
    """
    table = {encoder: dict(values) for encoder, values in defaults.items()}
    for item in env_list(name):
        encoder, sep, values = item.partition("=")
        parts = values.split("/")
        try:
            if not (sep and encoder.strip() and len(parts) in (2, 3, 4)):
                raise ValueError
            numbers = [float(part) for part in parts]
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: expected ENCODER=NEAR/SIMILAR or ENCODER=NEAR/SIMILAR/HASHED[/TITLED] "
                f"(e.g. dinov2-base=0.80/0.65), got {item!r}"
            ) from None
        near, similar = numbers[0], numbers[1]
        if not -1.0 <= similar <= near <= 1.0:
            raise ImproperlyConfigured(f"{name}: {item!r}: need -1 <= SIMILAR <= NEAR <= 1")
        row = {"near": near, "similar": similar}
        for key, number in zip(("hashed", "titled"), numbers[2:], strict=False):
            if not -1.0 <= number <= 1.0:
                raise ImproperlyConfigured(f"{name}: {item!r}: need -1 <= {key.upper()} <= 1")
            row[key] = number
        table[encoder.strip()] = row
    return table
