"""In-process approximate k-NN over a whole catalogue's vectors at once (numpy + faiss, no Django).

Two bulk jobs ask "which are nearest to each one?" for every vector at once:
the full duplicate scan (recommender.duplicates.scan, photo vectors, pairs above
a floor) and the stored-neighbour rebuild (embeddings.neighbours, product
vectors, the top k of each). One pgvector HNSW query per photo costs about a millisecond of
a database core, so a million photos would take far longer than the 10-minute
target on two cores; an index built in the scanning process answers the same
question in batches, with BLAS doing the heavy part:

- vectors are projected by PCA to REDUCED_DIM dimensions (and re-normalised):
  duplicates are close in every direction, so the leading components keep
  them nearest neighbours while every distance gets ~10x cheaper;
- an inverted-file index (IVF) over the projections; the photos are also the
  queries, so their nearest coarse centroids are computed once and used both
  to fill the lists and to probe them;
- candidates whose approximate similarity is within MARGIN of the floor are
  re-scored exactly from the full vectors, kept as float32 (numpy converts
  float16 one element at a time, which made re-scoring 3x slower than the
  search itself): stored similarities are exact, only the candidate list is
  approximate. The price is memory: 5 GB for a million 1280-d photos;
- small catalogs (below EXACT_BELOW photos) are searched exactly.

Vectors must be L2-normalised; inner product is then cosine similarity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

EXACT_BELOW = 20_000
REDUCED_DIM = 128
# Approximate similarities in the PCA space differ from the exact ones by far
# less than this for the pairs that matter (measured in bench/duplicates_scale.py).
MARGIN = 0.12
# Rows per BLAS call: 16k x 1280 float32 is 80 MB.
CHUNK = 16_384


@dataclass(frozen=True)
class AnnIndex:
    index: Any  # faiss.Index over `search_space`
    vectors: np.ndarray  # (n, d) float32, L2-normalised: exact re-scoring
    search_space: np.ndarray  # (n, d') float32 unit rows that the index holds
    assignments: np.ndarray | None  # (n, nprobe) nearest coarse centroids (IVF only)
    centroid_similarity: np.ndarray | None


def build_index(vectors: np.ndarray, *, nprobe: int = 4, seed: int = 0) -> AnnIndex:
    """Index unit rows `vectors` ((n, d), float32 preferred: not copied) for k-NN by cosine similarity."""
    import faiss

    count, dim = vectors.shape
    stored = np.ascontiguousarray(vectors, dtype=np.float32)
    if count < EXACT_BELOW or dim <= REDUCED_DIM:
        space = stored
        flat = faiss.IndexFlatIP(dim)
        flat.add(space)
        return AnnIndex(flat, stored, space, None, None)
    rng = np.random.default_rng(seed)
    pca = faiss.PCAMatrix(dim, REDUCED_DIM)
    pca.train(stored[np.sort(rng.choice(count, size=min(count, 20_000), replace=False))])
    space = np.empty((count, REDUCED_DIM), dtype=np.float32)
    for start in range(0, count, CHUNK):
        space[start : start + CHUNK] = pca.apply(stored[start : start + CHUNK])
    faiss.normalize_L2(space)

    nlist = int(min(16_384, max(64, 4 * np.sqrt(count))))
    quantizer = faiss.IndexFlatIP(REDUCED_DIM)
    index = faiss.IndexIVFFlat(quantizer, REDUCED_DIM, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.niter = 8
    index.cp.max_points_per_centroid = 40
    index.train(space[rng.choice(count, size=min(count, 40 * nlist), replace=False)])
    probes = min(nprobe, nlist)
    centroid_similarity, assignments = quantizer.search(space, probes)
    ids = np.arange(count, dtype=np.int64)
    first = np.ascontiguousarray(assignments[:, 0])
    # Fill the lists with the centroids found above instead of letting faiss search them again.
    # (swig_ptr does not keep its array alive: `ids` and `first` are named on purpose.)
    index.add_core(count, faiss.swig_ptr(space), faiss.swig_ptr(ids), faiss.swig_ptr(first))
    index.nprobe = probes
    return AnnIndex(index, stored, space, assignments, centroid_similarity)


def similar_pairs(
    ann: AnnIndex, rows: np.ndarray, *, k: int, min_similarity: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the photos `rows`: (query row, neighbour row, exact similarity) of their k nearest, at or above the floor."""
    queries = ann.search_space[rows]
    wanted = k + 1  # each photo finds itself first
    if ann.assignments is None:
        approximate, nearest = ann.index.search(queries, wanted)
        margin = 0.0
    else:
        assert ann.centroid_similarity is not None
        approximate, nearest = ann.index.search_preassigned(
            queries, wanted, ann.assignments[rows], ann.centroid_similarity[rows]
        )
        margin = MARGIN
    keep = (nearest >= 0) & (nearest != rows[:, None]) & (approximate >= min_similarity - margin)
    query_rows = np.broadcast_to(rows[:, None], nearest.shape)[keep]
    neighbour_rows = nearest[keep]
    exact = exact_similarity(ann.vectors, query_rows, neighbour_rows)
    good = exact >= min_similarity
    return query_rows[good], neighbour_rows[good], exact[good]


def exact_similarity(vectors: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Row-wise dot products of vectors[left] and vectors[right], a chunk at a time to bound memory."""
    out = np.empty(len(left), dtype=np.float32)
    for start in range(0, len(left), CHUNK):
        a, b = vectors[left[start : start + CHUNK]], vectors[right[start : start + CHUNK]]
        out[start : start + CHUNK] = np.einsum("nd,nd->n", a, b)
    return out


def nearest(ann: AnnIndex, rows: np.ndarray, *, k: int, pool: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """For the vectors `rows`: their k nearest other rows (n, k) and exact similarities, nearest first.

    The index proposes `pool * k` candidates per row (approximate when it is an
    IVF over projections); every candidate is re-scored exactly from the full
    vectors and the best k are kept, so similarities are exact and the order is
    exact among the candidates. Rows with fewer than k others get -1 ids.
    """
    queries = ann.search_space[rows]
    wanted = min(len(ann.vectors), pool * k + 1)
    if ann.assignments is None:
        _, candidates = ann.index.search(queries, wanted)
    else:
        assert ann.centroid_similarity is not None
        _, candidates = ann.index.search_preassigned(
            queries, wanted, ann.assignments[rows], ann.centroid_similarity[rows]
        )
    candidates = np.where(candidates == rows[:, None], -1, candidates)
    valid = candidates >= 0
    similarity = np.full(candidates.shape, -np.inf, dtype=np.float32)
    query_rows = np.broadcast_to(rows[:, None], candidates.shape)[valid]
    similarity[valid] = exact_similarity(ann.vectors, query_rows, candidates[valid])
    order = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    best = np.take_along_axis(candidates, order, axis=1)
    best_similarity = np.take_along_axis(similarity, order, axis=1)
    best[~np.isfinite(best_similarity)] = -1
    return best, best_similarity
