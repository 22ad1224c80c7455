"""A/B of the stored lists' incremental update: the working tree against another commit, in one run.

What an embedded photo costs the lists, as each side's own bench.query measures it
(`incremental_cost`: neighbour_lists_refresh of a new and of a re-embedded product, both
spaces, every update rolled back), on the catalogue bench.query loaded (`--n`, its
database and saved vectors). Each side is a whole tree, the baseline checked out of git
into a temporary directory, so a change anywhere in what the update runs is compared,
not only one module. Rounds alternate which side goes first, so neither gets the other's
warm cache; each side's figure is the median of its rounds' p50s.

    ../shared/bench-quiet -- .venv/bin/python -m bench.incremental_ab --baseline c5fb290
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from bench.db import BENCH_DATABASE, ROOT, setup_django

OUT = ROOT / "bench" / "out"
KINDS = ("new", "re-embedded")
# Run in each side's tree, by its own code: what both sides' bench.query has had since the lists existed.
CHILD = """
import json, sys
import numpy as np
from bench.db import setup_django
setup_django(database=sys.argv[1])
from bench.query import incremental_cost
from bench.query_data import Catalogue
data = np.load(sys.argv[2])
catalogue = Catalogue(**{key: data[key] for key in data.files})
print(json.dumps(incremental_cost(catalogue, count=int(sys.argv[3]))))
"""


def _checkout(revision: str) -> Path:
    """The tree of `revision`, extracted into a new temporary directory (no git state changes)."""
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, capture_output=True, check=False)
    if archive.returncode != 0:
        raise SystemExit(f"error: cannot check out {revision}: {archive.stderr.decode().strip()}")
    target = Path(tempfile.mkdtemp(prefix="incremental-ab-"))
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    return target


def _measure(tree: Path, env: dict[str, str], args: argparse.Namespace, saved: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, args.database, str(saved), str(args.photos)],
        cwd=tree,
        env=env | {"PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"error: the measurement in {tree} failed:\n{done.stderr[-2000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return {kind: float(report[kind]["per_photo_p50_ms"]) for kind in KINDS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="the commit to compare the working tree with")
    parser.add_argument("--n", type=int, default=100_000, help="the catalogue bench.query loaded")
    parser.add_argument("--database", default=BENCH_DATABASE)
    parser.add_argument("--photos", type=int, default=30, help="photos per round and side")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    saved = OUT / f"query-{args.n}-vectors.npz"
    if not saved.exists():
        raise SystemExit(f"error: {saved} is missing: run bench.query --n {args.n} first")
    # The children reach the same servers and database: DATABASE_URL and REDIS_URL as set up here.
    env = setup_django(database=args.database)
    sides = {"baseline": _checkout(args.baseline), "this tree": ROOT}
    results: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
    for n in range(args.rounds):
        order = list(sides.items())
        for side, tree in order if n % 2 == 0 else order[::-1]:
            results[side].append(_measure(tree, env, args, saved))
    for side, rounds in results.items():
        figures = ", ".join(f"{kind} {np.median([r[kind] for r in rounds]):6.2f} ms" for kind in KINDS)
        print(f"{side:9s} per photo, both spaces, median of {len(rounds)} rounds' p50: {figures}")


if __name__ == "__main__":
    main()
