"""Settings start nothing; the entry points start the embedded servers, and `make services-stop` stops them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The embedded Valkey starts only when nothing answers on 127.0.0.1:6379; this hides the machine's Redis.
HIDE_LOCAL_REDIS = (
    "from config import embedded; real = embedded._tcp_accepts; "
    "embedded._tcp_accepts = lambda host, port, timeout=0.3: port != 6379 and real(host, port, timeout); "
)


def bare_env(var_dir: Path | str) -> dict[str, str]:
    """This environment without any server URL, the embedded servers' data under `var_dir`."""
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.pop("LOOKALIKE_EMBEDDED", None)
    return {**env, "LOOKALIKE_VAR_DIR": str(var_dir), "DEBUG": "1"}


def processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in command:
            found.append(f"{entry.name}: {command}")
    return found


def test_importing_settings_and_manage_help_start_no_server(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    env = bare_env(var_dir)

    subprocess.run([sys.executable, "-c", "import config.settings"], cwd=ROOT, env=env, check=True, timeout=60)
    subprocess.run(
        [sys.executable, "manage.py", "help"], cwd=ROOT, env=env, check=True, timeout=60, capture_output=True
    )

    assert not var_dir.exists(), f"something wrote {sorted(var_dir.rglob('*'))}"
    assert processes_mentioning(str(var_dir)) == []


def test_make_services_stop_stops_the_embedded_servers_it_finds_even_from_a_relative_var_dir(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    # Relative to the checkout, as `LOOKALIKE_VAR_DIR=var` or the default var/ are: the path that used to be lost.
    env = bare_env(os.path.relpath(var_dir, ROOT))
    start = HIDE_LOCAL_REDIS + "from config.local_services import ensure_local_services; ensure_local_services()"
    subprocess.run([sys.executable, "-c", start], cwd=ROOT, env=env, check=True, timeout=120)
    assert (var_dir / "postgres" / "postmaster.pid").exists()
    assert (var_dir / "valkey" / "valkey.pid").exists()
    assert processes_mentioning(str(var_dir)), "the embedded servers run"

    stopped = subprocess.run(["make", "services-stop"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    assert stopped.returncode == 0, stopped.stderr
    assert "stopped: postgres, valkey" in stopped.stdout
    assert processes_mentioning(str(var_dir)) == []
    again = subprocess.run(["make", "services-stop"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "no embedded server was running" in again.stdout
