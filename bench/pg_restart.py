"""Restart the embedded PostgreSQL with another shared_buffers, for a benchmark that sizes the cache.

The storefront's working set must sit in shared_buffers (BENCHMARKS.md): at 1M products it is
~10 GB, beyond the 4GB that config/embedded.py gives a development box, where a benchmark's own
client needs the rest of the memory while it loads and rebuilds. The request phases
(`bench.query --skip-load`) need far less client memory, so they can run beside a larger cache:

    .venv/bin/python -m bench.pg_restart --shared-buffers 12GB

Only the embedded server (DATABASE_URL unset) is restarted; `make services-stop` and the next
start bring back the default.
"""

from __future__ import annotations

import argparse
import os
import re

from config import embedded
from config.local_services import var_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared-buffers", required=True, help="e.g. 12GB")
    args = parser.parse_args()
    if not re.fullmatch(r"\d+(kB|MB|GB)", args.shared_buffers):
        parser.error("--shared-buffers: a size such as 512MB or 12GB")
    if os.environ.get("DATABASE_URL", "").strip():
        parser.error("DATABASE_URL is set: this restarts only the embedded server")
    embedded.stop_postgres(var_dir())
    embedded.ensure_postgres(var_dir(), shared_buffers=args.shared_buffers)
    print(f"embedded PostgreSQL restarted with shared_buffers={args.shared_buffers}")


if __name__ == "__main__":
    main()
