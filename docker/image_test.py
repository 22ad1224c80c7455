"""`make image-test`: build docker/Dockerfile here and prove the containers work, with podman.

No image registry is reachable from these machines, so the base image is made
here (debootstrap: Debian bookworm with Python 3.11, `podman import`), torch
comes from the local wheel pip's configuration names, and the containers run
on the host network against services of this machine: an embedded
PostgreSQL 18 + pgvector (config/embedded.py, unchanged: its unix socket
directory is mounted into the containers, the DATABASE_URL form
`postgresql://user@/db?host=/run/postgresql` the README documents) and the
Redis on 127.0.0.1:6379 (databases of its own, so no test session's worker
takes our messages). It proves, in order:

1. docker/compose.yaml is valid (docker-compose config, podman-compose config), and every
   service of our image runs a command the image has, with variables the image reads and the
   README documents, and volumes on folders the image's user can write.
2. `manage.py check --deploy` is clean with the compose environment.
3. Containers started without SECRET_KEY, with a wrong DATABASE_URL, without one, or with an
   unreachable Redis exit 2 with manage.py's one-line error.
4. migrate (one-shot) runs; the web container (gunicorn) answers /readyz 200; a photo uploaded
   through it is embedded by the worker container; /similar/ answers; /metrics and the worker's
   /metrics show the counters moved.
5. A worker container killed (SIGKILL) mid-batch loses nothing: its photos stay pending with no
   vector written, and a new worker container (with the beat's sweeper) embeds every one.

The build time and the image size go to var/image-test/report.json (and the output).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.docker.compose import (  # noqa: E402 (ROOT on the path first)
    app_services,
    compose_environment,
    image_variables_allowed,
    load_compose,
    service_variables,
)
from tests.fixtures_worker import wait_for  # noqa: E402

WORK = Path(os.environ.get("IMAGE_TEST_DIR", "/tmp/lookalike-image-test"))
BASE_IMAGE = "localhost/lookalike-base:bookworm"
IMAGE = os.environ.get("IMAGE_TEST_TAG", "localhost/lookalike:image-test")
PREFIX = "lookalike-image-test"
WEB_PORT, WORKER_METRICS_PORT = 18765, 18766
REDIS_DB = 11  # the broker; the cache is REDIS_DB + 1
TOKEN = "image-test-metrics-token"
HOST_HEADERS = {"Host": "localhost", "X-Forwarded-Proto": "https"}  # what the TLS proxy in front sends
CONTAINERS_CONF = """\
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
"""
ONE_LINE_ERROR = re.compile(r"^error: ")
report: dict[str, Any] = {}


def say(message: str) -> None:
    print(f"image-test: {message}", flush=True)


def run(*argv: str, check: bool = True, capture: bool = True, timeout: float = 3600, **kwargs: Any) -> Any:
    done = subprocess.run(argv, capture_output=capture, text=True, timeout=timeout, check=False, **kwargs)
    if check and done.returncode != 0:
        raise SystemExit(f"image-test: `{' '.join(argv[:6])} ...` failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return done


def podman(*args: str, **kwargs: Any) -> Any:
    return run("podman", "--runtime", "runc", *args, **kwargs)


# --- the machine: podman, the base image, the torch wheel ------------------------------------


def ensure_tools() -> None:
    missing = [tool for tool in ("podman", "runc", "debootstrap", "docker-compose") if shutil.which(tool) is None]
    if missing:
        say(f"installing {', '.join(missing)} with apt-get")
        run("apt-get", "update", "-qq")
        run("apt-get", "install", "-y", "-qq", "podman", "runc", "debootstrap", "docker-compose", timeout=1800)
    (WORK / "containers.conf").write_text(CONTAINERS_CONF)
    os.environ["CONTAINERS_CONF"] = str(WORK / "containers.conf")
    tools = WORK / "tools"
    if not (tools / "bin" / "podman-compose").exists():
        run(sys.executable, "-m", "venv", str(tools))
        run(str(tools / "bin" / "pip"), "install", "--quiet", "podman-compose")


def ensure_base_image() -> None:
    if podman("image", "exists", BASE_IMAGE, check=False).returncode == 0:
        return
    rootfs = WORK / "rootfs"
    shutil.rmtree(rootfs, ignore_errors=True)
    say("debootstrap: Debian bookworm with python3 and python3-venv (a minute or two)")
    run(
        "debootstrap",
        "--variant=minbase",
        "--include=python3,python3-venv,ca-certificates",
        "bookworm",
        str(rootfs),
        "http://deb.debian.org/debian",
    )
    for leftovers in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for file in (rootfs / leftovers).glob("*"):
            if file.is_file():
                file.unlink()
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    podman("import", "-", BASE_IMAGE, stdin=tar.stdout)
    tar.wait()
    shutil.rmtree(rootfs, ignore_errors=True)


def copy_torch_wheel() -> None:
    """The CPU torch wheel from the folder pip's configuration names (find-links): no PyTorch index here."""
    config = run(sys.executable, "-m", "pip", "config", "list").stdout
    folders = {Path(value.strip("'\"")) for value in re.findall(r"find-links='?([^'\n]+)'?", config)}
    wheels = [wheel for folder in folders for wheel in folder.glob("torch-2.13.0*cpu*.whl")]
    if not wheels:
        raise SystemExit(f"image-test: no torch 2.13.0 CPU wheel in pip's find-links ({sorted(map(str, folders))})")
    target = ROOT / "docker" / "wheels" / wheels[0].name
    if not target.exists():
        shutil.copy2(wheels[0], target)


def build_image() -> None:
    say(f"building {IMAGE} from docker/Dockerfile (BASE_IMAGE={BASE_IMAGE})")
    started = time.monotonic()
    podman(
        "build",
        "--network",
        "host",
        "--file",
        str(ROOT / "docker" / "Dockerfile"),
        "--build-arg",
        f"BASE_IMAGE={BASE_IMAGE}",
        "--build-arg",
        "TORCH_INDEX_URL=",
        # This machine's TLS-inspecting proxy: its CA bundle, for pip (docker/Dockerfile).
        "--secret",
        "id=pip_ca,src=/etc/ssl/certs/ca-certificates.crt",
        "--tag",
        IMAGE,
        # IMAGE_TEST_NO_CACHE=1: every layer again (what the build time in the report should measure).
        *(["--no-cache"] if os.environ.get("IMAGE_TEST_NO_CACHE") == "1" else []),
        str(ROOT),
        capture=False,
        stdout=(WORK / "build.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    report["build_seconds"] = round(time.monotonic() - started, 1)
    size = int(podman("image", "inspect", "--format", "{{.Size}}", IMAGE).stdout.strip())
    report["image_size_bytes"] = size
    report["image_size"] = f"{size / 1e9:.2f} GB"
    say(f"built in {report['build_seconds']} s, {report['image_size']} (log: {WORK / 'build.log'})")


# --- the services on the host ------------------------------------------------------------------


@contextmanager
def host_postgres() -> Iterator[str]:
    """The embedded PostgreSQL + pgvector (config/embedded.py) under WORK; yields its socket directory."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from config import embedded

    var_dir = WORK / "pg"
    url = embedded.ensure_postgres(var_dir)
    socket_dir = re.search(r"host=([^&]+)", url)
    assert socket_dir is not None, url
    try:
        yield urllib.parse.unquote(socket_dir.group(1))
    finally:
        embedded.stop_postgres(var_dir)


def sql(socket_dir: str, query: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(host=socket_dir, dbname="lookalike", user="postgres", autocommit=True) as connection:
        return connection.execute(query).fetchall()


def flush_redis() -> None:
    import redis

    for db in (REDIS_DB, REDIS_DB + 1):
        redis.Redis(host="127.0.0.1", port=6379, db=db).flushdb()


# --- containers ----------------------------------------------------------------------------


def app_env(**overrides: str) -> dict[str, str]:
    """The compose file's environment for our services (compose_environment), pointed at this machine's services."""
    env = {
        **compose_environment(load_compose(), "web"),
        "DATABASE_URL": "postgresql://postgres@/lookalike?host=/run/postgresql",
        "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "CACHE_URL": f"redis://127.0.0.1:6379/{REDIS_DB + 1}",
        "ALLOWED_HOSTS": "localhost",
        "METRICS_TOKEN": TOKEN,
        "WEB_BIND": f"127.0.0.1:{WEB_PORT}",
        "WEB_WORKERS": "2",
        "WEB_THREADS": "4",
        "DATABASE_POOL_SIZE": "4",
        "EMBEDDING_PENDING_TIMEOUT": "8",
        "EMBEDDING_SWEEP_INTERVAL": "2",
        "EMBEDDING_CLAIM_BATCH_SIZE": "48",
        "HF_HUB_OFFLINE": "1",
    }
    env.update(overrides)
    return env


def container_args(env: dict[str, str], socket_dir: str) -> list[str]:
    args = ["--network", "host", "--volume", f"{socket_dir}:/run/postgresql"]
    for name in ("media", "maps", "onnx-cache"):
        args += ["--volume", f"{WORK / 'volumes' / name}:{volume_target(name)}"]
    for key, value in env.items():
        args += ["--env", f"{key}={value}"]
    return args


def volume_target(name: str) -> str:
    for entry in load_compose()["services"]["web"]["volumes"]:
        source, target = entry.split(":")[:2]
        if source == name:
            return str(target)
    raise KeyError(name)


def start(name: str, env: dict[str, str], socket_dir: str, *command: str) -> None:
    podman("rm", "--force", f"{PREFIX}-{name}", check=False)
    podman("run", "--detach", "--name", f"{PREFIX}-{name}", *container_args(env, socket_dir), IMAGE, *command)


def logs(name: str) -> str:
    done = podman("logs", f"{PREFIX}-{name}", check=False)
    return str(done.stdout + done.stderr)


def remove_containers() -> None:
    names = podman("ps", "--all", "--format", "{{.Names}}", check=False).stdout.split()
    for name in names:
        if name.startswith(PREFIX):
            podman("rm", "--force", "--time", "5", name, check=False)


def wait_until(
    what: str, predicate: Callable[[], Any], timeout: float, on_timeout: Callable[[], str], interval: float = 0.5
) -> Any:
    """tests.fixtures_worker.wait_for, with the containers' logs when it gives up."""
    try:
        return wait_for(predicate, timeout=timeout, interval=interval, what=what)
    except BaseException as failure:  # pytest's Failed is a BaseException
        if isinstance(failure, SystemExit | KeyboardInterrupt):
            raise
        raise SystemExit(f"image-test: {failure}\n{on_timeout()[-6000:]}") from None


def http(
    method: str, path: str, *, token: str = "", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{WEB_PORT}{path}",
        data=body,
        method=method,
        headers={**HOST_HEADERS, **({"Authorization": f"Token {token}"} if token else {}), **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def api(method: str, path: str, token: str, payload: dict[str, Any] | None = None) -> Any:
    body = json.dumps(payload).encode() if payload is not None else None
    status, raw = http(method, path, token=token, body=body, headers={"Content-Type": "application/json"})
    if status >= 400 or status == 0:
        raise SystemExit(f"image-test: {method} {path}: {status} {raw[:500]!r}")
    return json.loads(raw)


def upload(product_id: int, data: bytes, token: str) -> Any:
    boundary = "image-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="p.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    status, raw = http(
        "POST",
        f"/api/v1/products/{product_id}/images/",
        token=token,
        body=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    if status not in (200, 201):
        raise SystemExit(f"image-test: upload to product {product_id}: {status} {raw[:500]!r}")
    return json.loads(raw)


def photo(seed: int, size: int = 640) -> bytes:
    """A photo-like JPEG (a real photo, shifted and tinted per seed, so every one has other bytes)."""
    import numpy as np
    from PIL import Image
    from skimage import data

    base = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket()][seed % 4]
    rng = np.random.default_rng(seed)
    tinted = np.clip(base.astype(np.int16) + rng.integers(-25, 25, size=3), 0, 255).astype(np.uint8)
    image = Image.fromarray(np.roll(tinted, int(rng.integers(0, 80)), axis=1)).resize((size, size))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def metrics(url: str) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    request = urllib.request.Request(url, headers={**HOST_HEADERS, "Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{key}={value}" for key, value in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


def total(samples: dict[str, float], name: str, **labels: str) -> float:
    wanted = [f"{key}={value}" for key, value in labels.items()]
    return sum(
        value for key, value in samples.items() if key.split("{")[0] == name and all(part in key for part in wanted)
    )


# --- the checks ----------------------------------------------------------------------------


def check_compose() -> None:
    """docker-compose and podman-compose accept the file; each service's command, variables and volumes exist."""
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "docker"
        copy.mkdir()
        shutil.copy2(ROOT / "docker" / "compose.yaml", copy / "compose.yaml")
        example = (ROOT / "docker" / ".env.example").read_text()
        filled = re.sub(r"^(SECRET_KEY|POSTGRES_PASSWORD)=$", r"\1=filled-for-validation", example, flags=re.M)
        (copy / ".env").write_text(filled)
        run("docker-compose", "--file", str(copy / "compose.yaml"), "config", "--quiet", cwd=copy)
        tool = WORK / "tools" / "bin" / "podman-compose"
        rendered = run(str(tool), "--file", str(copy / "compose.yaml"), "config", cwd=copy).stdout
        assert "manage.py" in rendered and "pgvector/pgvector" in rendered, rendered[:2000]
    say("compose.yaml: valid for docker-compose config and podman-compose config")

    compose = load_compose()
    probe = """
import json, os, re, shutil, sys
from pathlib import Path
import django
os.environ.setdefault("SECRET_KEY", "probe")
django.setup()
from django.core.management import get_commands
code = "\\n".join(p.read_text() for p in Path("/app").rglob("*.py"))
names = json.loads(sys.argv[1])
print(json.dumps({
    "commands": sorted(get_commands()),
    "programs": {p: shutil.which(p) for p in ("python", "gunicorn", "celery")},
    "read": {n: bool(re.search(r'["\\']' + n + r'["\\']', code)) for n in names["variables"]},
    "writable": {v: os.access(v, os.W_OK) for v in names["volumes"]},
    "user": os.getuid(),
}))
"""
    services = app_services(compose)
    variables = sorted({variable for name in services for variable in service_variables(compose, name)})
    volumes = sorted({entry.split(":")[1] for service in services.values() for entry in service.get("volumes", [])})
    found = json.loads(
        podman(
            "run", "--rm", IMAGE, "python", "-c", probe, json.dumps({"variables": variables, "volumes": volumes})
        ).stdout
    )
    readme = (ROOT / "README.md").read_text() + (ROOT / "docker" / "README.md").read_text()
    problems = []
    for name, service in services.items():
        command = service["command"]
        if found["programs"].get(command[0]) is None:
            problems.append(f"{name}: {command[0]} is not in the image")
        if command[1:2] == ["manage.py"] and command[2] not in found["commands"]:
            problems.append(f"{name}: manage.py has no command {command[2]!r} in the image")
    for variable in variables:
        if not found["read"][variable] and variable not in image_variables_allowed():
            problems.append(f"no code in the image reads {variable}")
        if variable not in readme:
            problems.append(f"{variable} is not in the README")
    for volume in volumes:
        if not found["writable"][volume]:
            problems.append(f"the image's user cannot write {volume}")
        if volume not in readme:
            problems.append(f"volume {volume} is not in docker/README.md")
    if found["user"] == 0:
        problems.append("the image runs as root")
    if problems:
        raise SystemExit("image-test: compose and image disagree:\n  " + "\n  ".join(problems))
    report["compose_services_checked"] = sorted(services)
    say(f"compose services {', '.join(sorted(services))}: commands, variables, volumes match")


def check_deploy_checklist() -> None:
    env = compose_environment(load_compose(), "web")
    args = [arg for key, value in env.items() for arg in ("--env", f"{key}={value}")]
    done = podman("run", "--rm", *args, IMAGE, "python", "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert "System check identified no issues" in done.stdout, done.stdout + done.stderr
    say("manage.py check --deploy --fail-level WARNING: clean with the compose environment")


def check_one_line_errors(socket_dir: str) -> None:
    cases = [
        ("without SECRET_KEY", app_env(SECRET_KEY=""), ["python", "manage.py", "serve"], "SECRET_KEY"),
        (
            "with a wrong DATABASE_URL",
            app_env(DATABASE_URL="postgresql://nobody@127.0.0.1:9/lookalike"),
            ["python", "manage.py", "serve"],
            "DATABASE_URL: cannot connect",
        ),
        ("without DATABASE_URL", app_env(DATABASE_URL=""), ["python", "manage.py", "serve"], "DATABASE_URL"),
        (
            "with an unreachable Redis (web)",
            app_env(REDIS_URL="redis://127.0.0.1:9/0"),
            ["python", "manage.py", "serve"],
            "REDIS_URL: cannot reach Redis",
        ),
        (
            "with an unreachable Redis (worker)",
            app_env(REDIS_URL="redis://127.0.0.1:9/0"),
            ["python", "manage.py", "worker", "--queues", "embeddings"],
            "REDIS_URL: cannot reach Redis",
        ),
    ]
    for what, env, command, needle in cases:
        done = podman("run", "--rm", *container_args(env, socket_dir), IMAGE, *command, check=False, timeout=120)
        lines = [line for line in done.stderr.splitlines() if line.strip() and "Warning" not in line]
        ok = done.returncode == 2 and len(lines) == 1 and ONE_LINE_ERROR.match(lines[0]) and needle in lines[0]
        if not ok:
            raise SystemExit(f"image-test: a container {what}: exit {done.returncode}, stderr:\n{done.stderr}")
        say(f"a container {what} exits 2: {lines[0][:110]}")


def check_serving(socket_dir: str) -> str:
    env = app_env()
    podman("run", "--rm", *container_args(env, socket_dir), IMAGE, "python", "manage.py", "migrate", "--noinput")
    admin = podman(
        "run",
        "--rm",
        *container_args({**env, "DJANGO_SUPERUSER_PASSWORD": "image-test-password"}, socket_dir),
        IMAGE,
        "sh",
        "-c",
        "python manage.py createsuperuser --noinput --username admin --email admin@example.com >/dev/null "
        "&& python manage.py drf_create_token admin",
    ).stdout
    token = re.search(r"token ([0-9a-f]{40})", admin)
    assert token is not None, admin
    say("migrate (one-shot container) ran; a store admin and its API token exist")

    start("web", env, socket_dir)  # the image's default command: manage.py serve
    start_worker(env, socket_dir)
    start(
        "beat", env, socket_dir, "python", "manage.py", "worker", "--queues", "default", "--beat", "--concurrency", "1"
    )
    wait_until("/readyz 200 from the web container", lambda: http("GET", "/readyz")[0] == 200, 300, lambda: logs("web"))
    say("the web container (gunicorn, 2 workers) answers /readyz 200")

    products = []
    for index in range(3):
        product = api(
            "POST",
            "/api/v1/products/",
            token.group(1),
            {"sku": f"IMG-{index}", "title": f"Image test product {index}", "price": "19.90", "stock": 3},
        )
        upload(product["id"], photo(index), token.group(1))
        products.append(product["id"])

    def all_embedded() -> bool:
        rows = sql(socket_dir, "SELECT embedding_status FROM catalog_productimage")
        return bool(rows) and all(status == "done" for (status,) in rows)

    wait_until("the worker container to embed the uploads", all_embedded, 600, lambda: logs("worker"))
    detail = api("GET", f"/api/v1/products/{products[0]}/", token.group(1))
    assert detail["images"][0]["embedding_status"] == "done", detail
    say("photos uploaded through the web container were embedded by the worker container")

    similar = api("GET", f"/api/v1/products/{products[0]}/similar/?limit=2", "")
    assert similar["results"] and products[0] not in [item["id"] for item in similar["results"]], similar
    strategy = similar["diagnostics"]["strategy"]
    say(f"/similar/ answers {len(similar['results'])} products (strategy {strategy})")

    web = metrics(f"http://127.0.0.1:{WEB_PORT}/metrics")
    assert total(web, "lookalike_http_requests_total", endpoint="products-similar") >= 1, web
    assert total(web, "lookalike_rankings_total", endpoint="products-similar", strategy=strategy) >= 1
    assert total(web, "lookalike_http_requests_total", endpoint="readyz") >= 1
    assert total(web, "lookalike_db_pool_connections", state="size") >= 1
    assert total(web, "lookalike_embedding_pending_photos") == 0
    worker = metrics(f"http://127.0.0.1:{WORKER_METRICS_PORT}/metrics")
    assert total(worker, "lookalike_photos_embedded_total") >= 3, worker
    assert total(worker, "lookalike_embedding_batch_duration_seconds_count") >= 1
    say("/metrics (web, both gunicorn workers added up) and the worker's /metrics show the counters moved")
    log_line = next(line for line in logs("web").splitlines() if '"lookalike.access"' in line and "similar" in line)
    assert json.loads(log_line)["recommendation_id"] == similar["recommendation_id"], log_line
    say("the web container logs JSON lines with the request id and the recommendation id")
    return token.group(1)


def start_worker(env: dict[str, str], socket_dir: str) -> None:
    start(
        "worker",
        {**env, "METRICS_WORKER_PORT": str(WORKER_METRICS_PORT)},
        socket_dir,
        "python",
        "manage.py",
        "worker",
        "--queues",
        "embeddings",
    )


def check_killed_worker(socket_dir: str, token: str) -> None:
    env = app_env()
    podman("stop", "--time", "30", f"{PREFIX}-worker")
    product = api("POST", "/api/v1/products/", token, {"sku": "IMG-KILL", "title": "Killed batch", "price": "5"})
    for seed in range(100, 148):
        upload(product["id"], photo(seed, size=1024), token)
    photos = f"FROM catalog_productimage WHERE product_id = {int(product['id'])}"

    def statuses() -> dict[str, int]:
        return dict(sql(socket_dir, f"SELECT embedding_status, count(*) {photos} GROUP BY 1"))

    assert statuses() == {"pending": 48}, statuses()
    start_worker(env, socket_dir)

    def claimed() -> int:
        # Rows the worker's open batch transaction holds: pending, yet skipped by SKIP LOCKED.
        pending = sql(socket_dir, f"SELECT count(*) {photos} AND embedding_status = 'pending'")[0][0]
        free = sql(
            socket_dir,
            f"SELECT count(*) FROM (SELECT id {photos} AND embedding_status = 'pending' FOR UPDATE SKIP LOCKED) AS f",
        )[0][0]
        if pending < 48:
            raise SystemExit("image-test: the batch committed before it could be killed; nothing was proven")
        return int(pending - free)

    wait_until("the new worker to claim a batch", lambda: claimed() > 0, 600, lambda: logs("worker"), interval=0.05)
    podman("kill", "--signal", "KILL", f"{PREFIX}-worker")
    vectors = f"FROM embeddings_imagevector WHERE image_id IN (SELECT id {photos})"
    written = sql(socket_dir, f"SELECT count(*) {vectors}")[0][0]
    assert statuses() == {"pending": 48} and written == 0, (statuses(), written)
    say("a worker container killed (SIGKILL) mid-batch left its 48 photos pending, no vector written")

    start_worker(env, socket_dir)
    wait_until(
        "a new worker container to embed the killed batch",
        lambda: statuses() == {"done": 48},
        600,
        lambda: logs("worker") + logs("beat"),
    )
    spaces = sql(socket_dir, f"SELECT count(DISTINCT space) {vectors} GROUP BY image_id")
    assert len(spaces) == 48 and all(count == 2 for (count,) in spaces), spaces
    say("a new worker container embedded every photo of the killed batch, in both spaces")


def main() -> int:
    WORK.mkdir(parents=True, exist_ok=True)
    for name in ("media", "maps", "onnx-cache"):
        folder = WORK / "volumes" / name
        folder.mkdir(parents=True, exist_ok=True)
        os.chown(folder, 10001, 10001)  # the image's user (docker/Dockerfile)
    ensure_tools()
    ensure_base_image()
    copy_torch_wheel()
    if os.environ.get("IMAGE_TEST_SKIP_BUILD") != "1" or podman("image", "exists", IMAGE, check=False).returncode:
        build_image()
    check_compose()
    check_deploy_checklist()
    remove_containers()
    flush_redis()
    shutil.rmtree(WORK / "pg", ignore_errors=True)
    try:
        with host_postgres() as socket_dir:
            check_one_line_errors(socket_dir)
            token = check_serving(socket_dir)
            check_killed_worker(socket_dir, token)
    finally:
        remove_containers()
    out = ROOT / "var" / "image-test"
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    say(f"passed: {json.dumps(report)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
