"""A/B of the stored lists' incremental update: this tree's against another commit's, in one run.

What an embedded photo costs the lists (neighbour_lists_refresh of its product in both
spaces), as bench.query's incremental phase measures it, on the catalogue bench.query
loaded (`--n`, its database and saved vectors), for this tree's embeddings/neighbours.py
and the one of `--baseline` (a commit), alternating which runs first so that neither gets
the other's warm cache. Every update is rolled back, so the catalogue is unchanged.

    ../shared/bench-quiet -- .venv/bin/python -m bench.incremental_ab --baseline c5fb290
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.db import BENCH_DATABASE, ROOT, setup_django
from bench.query import updated_product
from bench.query_data import Catalogue

OUT = ROOT / "bench" / "out"
WARMUP = 5


def _baseline_refresh(revision: str) -> Callable[[Any, list[int]], None]:
    source = subprocess.run(
        ["git", "show", f"{revision}:embeddings/neighbours.py"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if source.returncode != 0:
        raise SystemExit(f"error: no embeddings/neighbours.py at {revision}: {source.stderr.strip()}")
    path = Path(tempfile.mkdtemp()) / "baseline_neighbours.py"
    path.write_text(source.stdout)
    spec = importlib.util.spec_from_file_location("baseline_neighbours", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    refresh: Callable[[Any, list[int]], None] = module._refresh_locked
    return refresh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="the commit to compare with")
    parser.add_argument("--n", type=int, default=100_000, help="the catalogue bench.query loaded")
    parser.add_argument("--database", default=BENCH_DATABASE)
    parser.add_argument("--photos", type=int, default=60)
    args = parser.parse_args()
    saved = OUT / f"query-{args.n}-vectors.npz"
    if not saved.exists():
        raise SystemExit(f"error: {saved} is missing: run bench.query --n {args.n} first")
    setup_django(database=args.database)
    from django.db import transaction

    import embeddings.neighbours as neighbours
    from embeddings.selectors import active_encoders

    variants: dict[str, Callable[[Any, list[int]], None]] = {
        "baseline": _baseline_refresh(args.baseline),
        "this tree": neighbours._refresh_locked,
    }
    data = np.load(saved)
    catalogue = Catalogue(**{k: data[k] for k in data.files})
    encoders = active_encoders()
    rng = np.random.default_rng(13)
    times: dict[tuple[str, str], list[float]] = {(v, k): [] for v in variants for k in ("new", "re-embedded")}
    for n, row in enumerate(rng.integers(0, len(catalogue.ids), size=args.photos + WARMUP).tolist()):
        order = list(variants.items())
        for variant, refresh in order if n % 2 == 0 else order[::-1]:
            neighbours._refresh_locked = refresh  # type: ignore[assignment]  # the variant under test
            for kind in ("new", "re-embedded"):
                with transaction.atomic():
                    product_id = updated_product(kind, sku=f"AB-{n}-{variant}", row=row, catalogue=catalogue, rng=rng)
                    started = time.perf_counter()
                    for encoder in encoders:
                        neighbours.neighbour_lists_refresh(encoder=encoder, product_ids=[product_id])
                    if n >= WARMUP:
                        times[(variant, kind)].append((time.perf_counter() - started) * 1000)
                    transaction.set_rollback(True)
    for (variant, kind), values in times.items():
        print(
            f"{variant:9s} {kind:11s} per photo, both spaces: p50 {np.median(values):6.2f} ms, "
            f"p95 {np.percentile(values, 95):6.2f} ms ({len(values)} photos)"
        )


if __name__ == "__main__":
    main()
