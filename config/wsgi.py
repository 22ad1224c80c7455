"""The web entry point (gunicorn config.wsgi, and runserver through WSGI_APPLICATION)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from config.after_response import AfterResponse

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Storefront responses leave their log write for after they are sent (config/after_response.py).
application = AfterResponse(get_wsgi_application())

from django.conf import settings  # noqa: E402 (configured by get_wsgi_application above)

if settings.WEB_PRELOAD_ENCODERS:
    # The query encoders load now, beside the first requests, not inside the first shopper's search.
    from embeddings import warmup

    warmup.start()
