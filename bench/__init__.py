"""Lookalike's benchmarks. Results, with the command that produced each, go in BENCHMARKS.md.

Run each from the repository root as a module, alone on the machine, through
`../shared/bench-quiet` (it waits for the cores to go quiet and holds a lock so no
second benchmark runs beside it):

    ../shared/bench-quiet -- .venv/bin/python -m bench.NAME [options]   # --help lists them

Benchmarks:

- encode             encoder throughput, JPEG bytes to vectors: baseline loop vs the batched path (issue 3)
- quality_lite       retrieval quality of the `lite` profile on Fashion-MNIST and edited photos (issue 3)
- ingest_http        uploads through the HTTP API to a real worker: images/s, upload-to-searchable latency (issue 4)
- ingest_writes      bulk vector writes with the HNSW index present vs load then CREATE INDEX (issue 4)
- ingest_stage       the worker's encode + write stage in-process, real-size DINOv2 + SigLIP (issue 4)
- query              storefront /similar/, /search/, /recommendations/ at N products (issue 5)
- duplicates_eval    calibration of the duplicate tiers on labelled real photos (issue 6)
- duplicates_scale   the full-catalog duplicate scan and the per-upload check at scale (issue 6)
- pages              page load times of the storefront and merchandiser pages in Chromium (issue 7)
- catalog_map_scale  the catalog map at 70,000 products in Chromium (issue 7)

Helpers, imported by the benchmarks and never run: db (Django on a database of
the benchmark's own), photo_corpus (real photos as upload-like JPEGs, Fashion-MNIST),
random_checkpoints (real-size models on random weights), browser_session (a dev
server and a signed-in Chromium page), query_data / query_exact / query_http (the
parts of `query`). A benchmark never imports another benchmark.
"""
