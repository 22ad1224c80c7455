"""Search by photo compares the photo with products' photos only, where semantic vectors blend in words.

A product's stored semantic vector may be blend(photos' mean, words)
(embeddings.encoders.multimodal); its photos' mean is kept in image_embedding
(NULL where the vector is that mean). Search by photo ranks by the photos' mean,
through its own HNSW index; text search and "more like this" keep the blend.
"""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from catalog.models import Product
from embeddings.models import ProductVector
from embeddings.vector_indexes import PHOTO_MEAN, kind_index_name
from recommender.storefront.selectors.filters import ProductFilters
from recommender.storefront.selectors.search import image_search
from recommender.storefront.selectors.spaces import Mode, VectorQuery, mode_weights, serving_encoders
from tests.recommender.storefront.conftest import DIM, SEMANTIC, Catalog, analyze, axis

pytestmark = pytest.mark.django_db


def semantic_photo_query(limit: int = 2) -> VectorQuery:
    return VectorQuery(
        mode=Mode.SEMANTIC,
        weights=mode_weights(Mode.SEMANTIC, 0.5, 0.5),
        filters=ProductFilters(),
        diversity=0.0,
        offset=0,
        limit=limit,
    )


def blended(product: Product, *, words_and_photos: list[float], photos: list[float]) -> None:
    ProductVector.objects.filter(product=product, space="semantic").update(
        embedding=words_and_photos, image_embedding=photos
    )


def test_a_photo_is_ranked_by_the_products_photos_not_their_words(catalog: Catalog) -> None:
    # Given a product whose photos look like the query but whose words pull its vector away, and one
    # whose blended vector lies on the query but whose photos do not; and one never blended (pure mean)
    looks_alike = catalog.product(visual=axis(0), semantic=axis(0))
    blended(looks_alike, words_and_photos=axis(0), photos=axis(1))
    reads_alike = catalog.product(visual=axis(0), semantic=axis(0))
    blended(reads_alike, words_and_photos=axis(1), photos=axis(2))
    pure = catalog.product(visual=axis(0), semantic=axis(1, tilt=0.5, towards=3))

    # When a shopper searches by a photo whose semantic vector is axis 1
    ranking = image_search(
        semantic_photo_query(limit=3),
        vectors={"semantic": np.asarray(axis(1), dtype=np.float32)},
        encoders=serving_encoders(),
    )

    # Then products rank by their photos' mean: the pure one by its vector, the blended ones by their photos
    assert [item.product_id for item in ranking.items] == [looks_alike.id, pure.id, reads_alike.id]
    scores = {item.product_id: item.semantic for item in ranking.items}
    assert scores[looks_alike.id] == pytest.approx(1.0, abs=5e-3)
    assert scores[reads_alike.id] == pytest.approx(0.0, abs=5e-3)


def test_search_by_photo_in_the_semantic_space_is_served_by_the_photo_mean_index(catalog: Catalog) -> None:
    rng = np.random.default_rng(0)
    for _ in range(40):
        row = rng.normal(size=DIM)
        catalog.product(visual=axis(0), semantic=(row / np.linalg.norm(row)).tolist())
    # Statistics first, so the plan does not hang on whether autovacuum has analyzed the tables yet.
    analyze()
    with CaptureQueriesContext(connection) as captured:
        image_search(
            semantic_photo_query(),
            vectors={"semantic": np.asarray(axis(1), dtype=np.float32)},
            encoders=serving_encoders(),
        )
    knn_sql = next(q["sql"] for q in captured.captured_queries if "WITH c AS MATERIALIZED" in q["sql"])

    with transaction.atomic(), connection.cursor() as cursor:
        # A 40-row table is read faster in full: ask whether the index can serve the query at all.
        cursor.execute("SET LOCAL enable_seqscan = off")
        # And no sorting: walking another index and sorting 40 rows is cheaper too, and says nothing
        # about whether the photo-mean index serves the ORDER BY.
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {knn_sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert kind_index_name(PHOTO_MEAN, "semantic", SEMANTIC) in plan, plan
