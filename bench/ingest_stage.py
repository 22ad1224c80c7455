"""The worker's encode + database-write stage, in-process (issue 4).

Real-size DINOv2-B/14 + SigLIP-B/16 (random weights, bench/random_checkpoints.py) on
--device cpu|cuda, photos decoded ahead, vectors written with the production bulk INSERT
into a table of its own on a separate database (lookalike_bench).

    python -m bench.ingest_stage --device cuda --n 20000 --batch 256
"""

from __future__ import annotations

import argparse
import os
import time

from bench.db import setup_django
from bench.photo_corpus import PHOTO_KINDS, upload_photos


def run(args: argparse.Namespace) -> None:
    import numpy as np

    os.environ["EMBEDDINGS_DEVICE"] = args.device
    setup_django(migrate=True)
    from django.db import connection

    from bench.random_checkpoints import register_random
    from embeddings.encoders import decode_image
    from embeddings.encoders.loader import load_encoder
    from embeddings.encoders.runtime import select_runtime
    from embeddings.vector_codec import vector_literal

    runtime = select_runtime(args.device)
    encoders = [load_encoder(register_random(name), runtime) for name in ("dinov2-base", "siglip-base-patch16-224")]
    photos = upload_photos(min(args.n, 512), args.photos)
    decoded = [decode_image(data, min_size=256) for data in photos]
    table = "bench_stage_vectors"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TABLE {table} (id bigserial PRIMARY KEY, space text, encoder text, embedding halfvec)")
    for encoder in encoders:  # warm-up (CUDA context, kernels)
        encoder.encode_images(decoded[: min(len(decoded), args.batch)], batch_size=args.batch)
    encode_seconds = write_seconds = 0.0
    done = 0
    while done < args.n:
        count = min(args.batch, args.n - done)
        batch = [decoded[(done + i) % len(decoded)] for i in range(count)]
        for encoder in encoders:
            begin = time.perf_counter()
            vectors = encoder.encode_images(batch, batch_size=args.batch)
            if args.device == "cuda":
                import torch

                torch.cuda.synchronize()
            encode_seconds += time.perf_counter() - begin
            begin = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {table} (space, encoder, embedding) "
                    "SELECT %s, %s, e::halfvec FROM unnest(%s::text[]) AS t(e)",
                    [encoder.name, encoder.identity, [vector_literal(row) for row in np.asarray(vectors).tolist()]],
                )
            write_seconds += time.perf_counter() - begin
        done += count
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {table}")
    total = encode_seconds + write_seconds
    print(
        f"stage on {runtime.label}: {args.n} images x 2 models (DINOv2-B/14 + SigLIP-B/16, random weights), "
        f"batch {args.batch}, decoded ahead: encode {args.n / encode_seconds:,.1f} img/s, "
        f"write {2 * args.n / write_seconds:,.0f} vectors/s, together {args.n / total:,.1f} images/s into PostgreSQL"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--photos", choices=PHOTO_KINDS, default="jpeg")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
