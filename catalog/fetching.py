"""Fetch an image by URL without becoming a proxy into the private network.

Used by `import_catalog` and by search-by-photo. Rules, in order:
- http and https only; at most settings.FETCH_MAX_REDIRECTS redirects, each hop
  checked again;
- the host name is resolved once and every address must be public (no
  loopback, private, link-local, multicast, reserved or unspecified address,
  and no IPv6 address that carries a non-public IPv4 one: mapped, 6to4, NAT64,
  IPv4-compatible, Teredo) unless settings.FETCH_ALLOW_PRIVATE_ADDRESSES; the
  connection then goes to that vetted address (with the name kept for TLS and
  the Host header), so a DNS answer that changes between check and connect
  cannot smuggle in 127.0.0.1;
- settings.FETCH_TIMEOUT_SECONDS is one deadline for the whole fetch, redirects
  included: a server trickling one byte a second cannot keep it alive, as a
  per-read timeout would let it;
- the response must be 200 with an `image/*` content type, and the body is cut
  off at settings.IMAGE_MAX_BYTES (Content-Length is not trusted).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from urllib.parse import urljoin, urlsplit

from django.conf import settings

USER_AGENT = "Lookalike-image-fetcher/1.0"
READ_CHUNK = 64 * 1024


class FetchError(ValueError):
    """The URL could not be fetched as an image; the message says why (safe to show to the client)."""


def fetch_image_bytes(url: str) -> bytes:
    """The bytes at `url` (following bounded redirects), or FetchError naming the problem.

    Call it outside any database transaction: it waits on the network for up to
    FETCH_TIMEOUT_SECONDS.
    """
    deadline = time.monotonic() + settings.FETCH_TIMEOUT_SECONDS
    current = url
    for _ in range(settings.FETCH_MAX_REDIRECTS + 1):
        status, location, content_type, body = _get_once(current, deadline)
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


def _remaining(deadline: float, url: str) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchError(f"{url}: not fetched within {settings.FETCH_TIMEOUT_SECONDS:g}s")
    return left


def _get_once(url: str, deadline: float) -> tuple[int, str, str, bytes | None]:
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
    timeout = _remaining(deadline, url)
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = _PinnedHTTPSConnection(parts.hostname, address, port, timeout=timeout)
    else:
        connection = _PinnedHTTPConnection(parts.hostname, address, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"User-Agent": USER_AGENT, "Accept": "image/*"})
        # Kept before getresponse(): http.client drops connection.sock when the response will close.
        sock = connection.sock
        response = connection.getresponse()
        location = response.getheader("Location") or ""
        content_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
        if response.status != 200 or not content_type.startswith("image/"):
            return response.status, location, content_type, None
        return response.status, location, content_type, _read_limited(sock, response, url, deadline)
    except TimeoutError:
        raise FetchError(f"{url}: timed out (the whole fetch may take {settings.FETCH_TIMEOUT_SECONDS:g}s)") from None
    except (OSError, http.client.HTTPException) as exc:
        raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from None
    finally:
        connection.close()


def _read_limited(sock: socket.socket | None, response: http.client.HTTPResponse, url: str, deadline: float) -> bytes:
    limit = settings.IMAGE_MAX_BYTES
    chunks: list[bytes] = []
    size = 0
    while True:
        # Every read may wait only for what is left of the one deadline. (The socket stays
        # usable while the response reads from it, even after http.client "closed" it.)
        remaining = _remaining(deadline, url)
        if sock is not None:
            sock.settimeout(remaining)
        chunk = response.read1(READ_CHUNK)
        if not chunk:
            break
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
            if not public_address(ipaddress.ip_address(address.split("%")[0])):
                raise FetchError(f"{host} resolves to {address}, a private or local address; not fetched")
    if not addresses:
        raise FetchError(f"cannot resolve {host}")
    return addresses[0]


# NAT64's well-known prefix (RFC 6052) and its local-use prefix (RFC 8215, whose mapping is the site's own).
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d


def _carried_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a translator or tunnel would deliver this IPv6 address's packets to, if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64 or ip in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    return None


def public_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A global unicast address, and for IPv6 one that does not lead to a non-public IPv4 address."""
    if ip.is_multicast or not ip.is_global:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL or ip in _IPV4_COMPATIBLE:
            return False
        carried = _carried_ipv4(ip)
        if carried is not None:
            return public_address(carried)
    return True


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
