"""The partial HNSW index per encoder is what k-NN queries actually use."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from django.db import connection, transaction

from catalog.models import Product
from embeddings.models import ProductVector, Space
from embeddings.vector_indexes import ensure_hnsw_index, knn_distance_sql

ENCODER = "test-encoder@0000"
DIM = 32


def unit_vectors(count: int, dim: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.django_db(transaction=True)
def test_knn_query_uses_the_hnsw_index_and_finds_the_nearest() -> None:
    vectors = unit_vectors(300, DIM, seed=7)
    products = Product.objects.bulk_create(
        Product(sku=f"SKU-{i}", title=f"Product {i}", price=Decimal("10.00")) for i in range(len(vectors))
    )
    ProductVector.objects.bulk_create(
        ProductVector(product=p, space=Space.VISUAL, encoder=ENCODER, embedding=v.tolist())
        for p, v in zip(products, vectors, strict=True)
    )
    name = ensure_hnsw_index(kind="product", space=Space.VISUAL, encoder=ENCODER, dim=DIM)
    query = (vectors[42] + 0.01 * unit_vectors(1, DIM, seed=8)[0]).tolist()
    sql = (
        f"SELECT pv.product_id FROM embeddings_productvector pv WHERE pv.space = %s AND pv.encoder = %s "
        f"ORDER BY {knn_distance_sql('pv', DIM)} LIMIT 5"
    )
    params = [Space.VISUAL.value, ENCODER, str(query)]
    with transaction.atomic(), connection.cursor() as cursor:
        # 300 rows are few enough that the planner would rather scan; forbid
        # that so the test shows the index *can* serve this exact query shape.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute(sql, params)
        nearest = [row[0] for row in cursor.fetchall()]
    assert f"Index Scan using {name}" in plan
    assert nearest[0] == products[42].pk


@pytest.mark.django_db(transaction=True)
def test_ensure_hnsw_index_is_idempotent_and_per_encoder() -> None:
    first = ensure_hnsw_index(kind="product", space=Space.VISUAL, encoder=ENCODER, dim=DIM)
    again = ensure_hnsw_index(kind="product", space=Space.VISUAL, encoder=ENCODER, dim=DIM)
    other = ensure_hnsw_index(kind="product", space=Space.VISUAL, encoder="other@1", dim=DIM)
    assert first == again
    assert other != first
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [first])
        definition = cursor.fetchone()[0]
    assert "hnsw" in definition and f"halfvec({DIM})" in definition and ENCODER in definition
