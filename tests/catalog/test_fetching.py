"""catalog.fetching.fetch_image_bytes against a real local HTTP server."""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from catalog.fetching import FetchError, fetch_image_bytes, public_address
from tests.catalog import factories

PHOTO = factories.jpeg(1)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/photo.jpg":
            self._send(200, "image/jpeg", PHOTO)
        elif self.path == "/page.html":
            self._send(200, "text/html; charset=utf-8", b"<html>not a photo</html>")
        elif self.path.startswith("/hop/"):
            left = int(self.path.rsplit("/", 1)[1])
            self.send_response(302)
            self.send_header("Location", f"/hop/{left - 1}" if left > 1 else "/photo.jpg")
            self.end_headers()
        elif self.path == "/trickle.jpg":
            # Headers at once, then a byte at a time: every read is quick, the whole never ends.
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.1)
        elif self.path == "/slow.jpg":
            time.sleep(1.0)
            self._send(200, "image/jpeg", PHOTO)
        else:
            self._send(404, "text/plain", b"no")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the timeout test hangs up on purpose


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def allow_local(settings: Any) -> Any:
    settings.FETCH_ALLOW_PRIVATE_ADDRESSES = True
    settings.FETCH_MAX_REDIRECTS = 3
    settings.FETCH_TIMEOUT_SECONDS = 0.3
    return settings


def test_loopback_and_private_addresses_are_refused_by_default(server: str, settings: Any) -> None:
    settings.FETCH_ALLOW_PRIVATE_ADDRESSES = False
    for url in (f"{server}/photo.jpg", "http://10.1.2.3/x.jpg", "http://[::ffff:127.0.0.1]/x.jpg", "http://0.0.0.0/"):
        with pytest.raises(FetchError, match="private or local address"):
            fetch_image_bytes(url)


def test_it_fetches_an_image_when_local_addresses_are_allowed(server: str, allow_local: Any) -> None:
    assert fetch_image_bytes(f"{server}/photo.jpg") == PHOTO


def test_it_follows_redirects_up_to_the_limit(server: str, allow_local: Any) -> None:
    assert fetch_image_bytes(f"{server}/hop/3") == PHOTO
    with pytest.raises(FetchError, match="more than 3 redirects"):
        fetch_image_bytes(f"{server}/hop/4")


@pytest.mark.parametrize(
    ("path", "problem"),
    [("/page.html", "is not an image"), ("/missing.jpg", "HTTP 404"), ("/slow.jpg", "timed out")],
)
def test_it_names_what_is_wrong(server: str, allow_local: Any, path: str, problem: str) -> None:
    with pytest.raises(FetchError, match=problem):
        fetch_image_bytes(f"{server}{path}")


def test_it_stops_reading_at_the_byte_limit(server: str, allow_local: Any) -> None:
    allow_local.IMAGE_MAX_BYTES = 1024
    with pytest.raises(FetchError, match="larger than the limit of 1024 bytes"):
        fetch_image_bytes(f"{server}/photo.jpg")


def test_only_http_and_https_are_fetched() -> None:
    for url in ("file:///etc/passwd", "ftp://example.com/a.jpg", "gopher://x/"):
        with pytest.raises(FetchError, match="only http and https"):
            fetch_image_bytes(url)


def test_one_deadline_covers_the_whole_fetch_however_fast_each_byte_comes(server: str, allow_local: Any) -> None:
    allow_local.FETCH_TIMEOUT_SECONDS = 0.5
    started = time.monotonic()

    with pytest.raises(FetchError, match=r"not fetched within 0\.5s|timed out"):
        fetch_image_bytes(f"{server}/trickle.jpg")

    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b:1::a00:1",  # NAT64 local-use prefix: the site decides where it leads
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:c0a8:101::",  # 6to4 of 192.168.1.1
        "::127.0.0.1",  # IPv4-compatible
        "::ffff:10.0.0.1",  # IPv4-mapped
        "224.0.0.1",  # multicast (Python calls it global)
        "ff0e::1",  # global-scope IPv6 multicast
        "169.254.169.254",  # cloud metadata
    ],
)
def test_addresses_that_lead_to_private_or_multicast_ones_are_refused(address: str) -> None:
    assert not public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "2002:5db8:d822::"])
def test_public_addresses_pass_including_6to4_of_a_public_one(address: str) -> None:
    assert public_address(ipaddress.ip_address(address))
