"""Where photos and thumbnails live: the local disk (MEDIA_ROOT) or an S3-compatible bucket.

Every read and write of a photo goes through Django's storage API
(`default_storage`: catalog/services/files.py writes, the worker reads, the
serializers ask for URLs), so web and worker machines that share a bucket share
the photos. With `s3`, django-storages' S3 backend talks to AWS S3 or anything
that speaks its API (MinIO, Ceph RGW, Cloudflare R2, ...; AWS_S3_ENDPOINT_URL).
"""

from __future__ import annotations

from typing import Any


def s3_storage(
    *,
    bucket: str,
    endpoint_url: str = "",
    region: str = "",
    access_key: str = "",
    secret_key: str = "",
    location: str = "",
    custom_domain: str = "",
    signed_urls: bool = True,
    url_expiry: int = 3600,
    addressing_style: str = "auto",
    timeout: float = 10.0,
) -> dict[str, Any]:
    """The STORAGES entry for a bucket. Empty strings mean "not set" (boto3's own defaults and credential chain)."""
    from botocore.config import Config

    s3_options: Any = {"addressing_style": addressing_style}  # validated by the settings (env_choice)
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint_url or None,
            "region_name": region or None,
            "access_key": access_key or None,
            "secret_key": secret_key or None,
            "location": location,
            "custom_domain": custom_domain or None,
            "querystring_auth": signed_urls,
            "querystring_expire": url_expiry,
            # Names are unique per upload (a random token, catalog/services/files.py): nothing is ever
            # overwritten, so the HEAD request that looks for a free name would be one round trip wasted.
            "file_overwrite": True,
            # botocore's defaults wait 60 s to connect and retry 4 times: an upload to an unreachable
            # bucket would hang for minutes instead of answering 503 within a few seconds.
            "client_config": Config(
                s3=s3_options,
                signature_version="s3v4",
                connect_timeout=timeout,
                read_timeout=timeout,
                retries={"max_attempts": 2, "mode": "standard"},
            ),
        },
    }
