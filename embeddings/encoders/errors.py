"""The two failures callers are expected to handle: a bad upload and missing weights."""

from __future__ import annotations


class ImageDecodeError(ValueError):
    """The bytes are not an image we can safely turn into RGB pixels.

    The message is meant for an API client ("not an image", "truncated image", ...),
    so it never carries a Pillow stack trace.
    """


class WeightsUnavailableError(RuntimeError):
    """An encoder's configured weights cannot be found without the network.

    Raised instead of falling back to another model: vectors of different encoders
    must never be mixed, so a silent switch would corrupt an index.
    """
