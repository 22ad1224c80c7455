"""Where samples are written. Imports no prometheus_client: it must run before that is imported.

Multiprocess mode is prometheus-client's: each process writes its samples to
files named by its pid in PROMETHEUS_MULTIPROC_DIR, and a scrape adds them up.
The folder must be set before prometheus_client is first imported (it picks
its value class then) and emptied when the process tree starts (files of a
previous run would be added in), so the entry points prepare it: `manage.py
serve` before it starts gunicorn, the worker before it forks its children.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from django.conf import settings

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# counter_123.db, histogram_123.db, gauge_livesum_123.db: the pid is the last number.
_PID = re.compile(r"_(\d+)\.db$")


def multiprocess_dir() -> str | None:
    """The folder prometheus-client writes to in this process (it reads the variable itself), if any."""
    return os.environ.get(VARIABLE, "").strip() or None


def multiprocess_dir_prepare(*, name: str, for_exec: bool = False) -> Path:
    """Export PROMETHEUS_MULTIPROC_DIR (default: LOOKALIKE_VAR_DIR/prometheus/<name>) and empty it of other processes.

    Files of this very process are kept: it may already have written to them. `for_exec`:
    the folder is for the program this process is about to become (its own imports do not matter).
    """
    if not for_exec and "prometheus_client.values" in sys.modules and not multiprocess_dir():
        raise RuntimeError(f"{VARIABLE} must be set before prometheus_client is imported")
    folder = Path(multiprocess_dir() or settings.VAR_DIR / "prometheus" / re.sub(r"[^A-Za-z0-9.-]", "_", name))
    folder.mkdir(parents=True, exist_ok=True)
    for file in folder.glob("*.db"):
        match = _PID.search(file.name)
        if match is None or int(match.group(1)) != os.getpid():
            file.unlink(missing_ok=True)
    os.environ[VARIABLE] = str(folder)
    return folder
