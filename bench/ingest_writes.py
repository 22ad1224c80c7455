"""Vector writes into PostgreSQL (issue 4): bulk INSERTs of synthetic vectors, rows/s.

With the HNSW index present vs bulk load then CREATE INDEX (why embed_backfill drops
and rebuilds). Runs in a table of its own on a separate database (lookalike_bench).

    python -m bench.ingest_writes --rows 20000 --dim 768
"""

from __future__ import annotations

import argparse
import time

from bench.db import setup_django


def run(args: argparse.Namespace) -> None:
    import numpy as np

    setup_django(migrate=True)
    from django.db import connection

    from embeddings.vector_codec import vector_literal

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((args.rows, args.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    literals = [vector_literal(row) for row in vectors.tolist()]
    table = "bench_vector_writes"

    def reset(with_index: bool) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute(
                f"CREATE TABLE {table} (id bigserial PRIMARY KEY, space text, encoder text, embedding halfvec)"
            )
            if with_index:
                cursor.execute(index_sql)

    index_sql = (
        f"CREATE INDEX {table}_hnsw ON {table} USING hnsw ((embedding::halfvec({args.dim})) halfvec_cosine_ops) "
        f"WITH (m = 16, ef_construction = 64) WHERE space = 'visual' AND encoder = 'bench@1'"
    )

    def load() -> float:
        # The production write: one INSERT ... SELECT FROM unnest(...) per batch (embeddings.services).
        begin = time.perf_counter()
        for start in range(0, args.rows, args.batch):
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {table} (space, encoder, embedding) "
                    "SELECT 'visual', 'bench@1', e::halfvec FROM unnest(%s::text[]) AS t(e)",
                    [literals[start : start + args.batch]],
                )
        return time.perf_counter() - begin

    reset(with_index=True)
    with_index = load()
    reset(with_index=False)
    without_index = load()
    begin = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(index_sql)
    build = time.perf_counter() - begin
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {table}")
    print(
        f"writes: {args.rows} x {args.dim}-d halfvec in batches of {args.batch}: "
        f"into a table with its HNSW index {args.rows / with_index:,.0f} rows/s ({with_index:.1f} s); "
        f"bulk load without index {args.rows / without_index:,.0f} rows/s ({without_index:.1f} s) + index build "
        f"{build:.1f} s = {args.rows / (without_index + build):,.0f} rows/s overall "
        f"({with_index / (without_index + build):.1f}x faster)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--batch", type=int, default=512)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
