"""Fetch an image by URL without becoming a proxy into the private network.

Used by `import_catalog` and by search-by-photo. Rules, in order:
- http and https only; at most settings.FETCH_MAX_REDIRECTS redirects, each hop
  checked again;
- the host name is resolved once and every address must be public (no
  loopback, private, link-local, multicast, reserved or unspecified address)
  unless settings.FETCH_ALLOW_PRIVATE_ADDRESSES; the connection then goes to
  that vetted address (with the name kept for TLS and the Host header), so a
  DNS answer that changes between check and connect cannot smuggle in 127.0.0.1;
- settings.FETCH_TIMEOUT_SECONDS for connecting and for each read;
- the response must be 200 with an `image/*` content type, and the body is cut
  off at settings.IMAGE_MAX_BYTES (Content-Length is not trusted).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from urllib.parse import urljoin, urlsplit

from django.conf import settings

USER_AGENT = "Lookalike-image-fetcher/1.0"
READ_CHUNK = 64 * 1024


class FetchError(ValueError):
    """The URL could not be fetched as an image; the message says why (safe to show to the client)."""


def fetch_image_bytes(url: str) -> bytes:
    """The bytes at `url` (following bounded redirects), or FetchError naming the problem."""
    current = url
    for _ in range(settings.FETCH_MAX_REDIRECTS + 1):
        status, location, content_type, body = _get_once(current)
        if status in (301, 302, 303, 307, 308):
            if not location:
                raise FetchError(f"{current}: redirect without a Location header")
            current = urljoin(current, location)
            continue
        if status != 200:
            raise FetchError(f"{current}: the server answered HTTP {status}")
        if not content_type.startswith("image/"):
            raise FetchError(f"{current}: content type {content_type or 'missing'!r} is not an image")
        assert body is not None
        return body
    raise FetchError(f"{url}: more than {settings.FETCH_MAX_REDIRECTS} redirects")


def _get_once(url: str) -> tuple[int, str, str, bytes | None]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError(f"{url}: only http and https URLs can be fetched")
    if not parts.hostname:
        raise FetchError(f"{url}: the URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise FetchError(f"{url}: invalid port") from None
    address = _vetted_address(parts.hostname, port)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    timeout = settings.FETCH_TIMEOUT_SECONDS
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = _PinnedHTTPSConnection(parts.hostname, address, port, timeout=timeout)
    else:
        connection = _PinnedHTTPConnection(parts.hostname, address, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"User-Agent": USER_AGENT, "Accept": "image/*"})
        response = connection.getresponse()
        location = response.getheader("Location") or ""
        content_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
        if response.status != 200 or not content_type.startswith("image/"):
            return response.status, location, content_type, None
        return response.status, location, content_type, _read_limited(response, url)
    except TimeoutError:
        raise FetchError(f"{url}: timed out after {timeout:g}s") from None
    except (OSError, http.client.HTTPException) as exc:
        raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from None
    finally:
        connection.close()


def _read_limited(response: http.client.HTTPResponse, url: str) -> bytes:
    limit = settings.IMAGE_MAX_BYTES
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read(READ_CHUNK):
        size += len(chunk)
        if size > limit:
            raise FetchError(f"{url}: larger than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _vetted_address(host: str, port: int) -> str:
    """The first address `host` resolves to, after checking that every one of them is allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(f"cannot resolve {host}: {exc.strerror}") from None
    addresses = [str(info[4][0]) for info in infos]
    if not settings.FETCH_ALLOW_PRIVATE_ADDRESSES:
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%")[0])
            mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is loopback too
            if not (mapped or ip).is_global:
                raise FetchError(f"{host} resolves to {address}, a private or local address; not fetched")
    if not addresses:
        raise FetchError(f"cannot resolve {host}")
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the vetted address, sends the original host name."""

    def __init__(self, host: str, address: str, port: int, *, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Like _PinnedHTTPConnection, with TLS verified against the original host name (SNI too)."""

    def __init__(self, host: str, address: str, port: int, *, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]
