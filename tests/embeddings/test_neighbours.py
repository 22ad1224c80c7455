"""Stored "more like this" lists: equal to brute force, updated with the vectors in one transaction, rebuilt in bulk."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import numpy as np
import psycopg
import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from catalog.models import Product, ProductImage
from embeddings.models import ImageVector, NeighbourRebuild, ProductNeighbours, ProductVector, Space
from embeddings.neighbours import RebuildRunning, _lock_key, neighbour_lists_rebuild
from embeddings.selectors import ActiveEncoder, active_encoder
from embeddings.services import product_vectors_recompute, space_encoder_register

pytestmark = pytest.mark.django_db

ENCODER = "neighbours-visual@1"
DIM = 16
SIZE = 10


@pytest.fixture
def space(settings: Any) -> ActiveEncoder:
    settings.RECOMMENDER_NEIGHBOURS = SIZE
    space_encoder_register(space=Space.VISUAL, identity=ENCODER, dim=DIM)
    encoder = active_encoder(Space.VISUAL)
    assert encoder is not None
    return encoder


def psycopg_settings() -> dict[str, Any]:
    params = connection.get_connection_params()
    return {key: value for key, value in params.items() if key not in {"cursor_factory", "context"}}


def unit(rng: np.random.Generator) -> np.ndarray:
    vector = rng.normal(size=DIM)
    return vector / np.linalg.norm(vector)


def photographed(vector: np.ndarray, n: int) -> Product:
    """A product with one embedded photo whose visual vector is `vector` (its product vector not yet computed)."""
    product = Product.objects.create(sku=f"NB-{n}", title=f"Neighbour {n}", price=Decimal("5.00"))
    data = f"photo {n}".encode()
    image = ProductImage(product=product, sha256=hashlib.sha256(data).hexdigest(), width=8, height=8)
    image.embedding_status = "done"
    image.file.save(f"nb-{n}.jpg", ContentFile(data), save=False)
    image.save()
    ImageVector.objects.create(
        image=image, product=product, space=Space.VISUAL, encoder=ENCODER, embedding=vector.tolist(), image_version=1
    )
    return product


def brute_force(vectors: dict[int, np.ndarray], product_id: int, k: int) -> list[int]:
    others = sorted(
        (pid for pid in vectors if pid != product_id), key=lambda pid: (-float(vectors[pid] @ vectors[product_id]), pid)
    )
    return others[:k]


def stored(product_id: int) -> list[int]:
    row = ProductNeighbours.objects.filter(product_id=product_id, space=Space.VISUAL, encoder=ENCODER).first()
    return list(row.neighbour_ids) if row else []


# One at a time, each list is edited in place (one entrant); in batches, a list that several of a
# batch's products enter at once is merged (embeddings.neighbour_edits).
@pytest.mark.parametrize("batch", [1, 6], ids=["one-by-one", "in-batches"])
def test_lists_kept_up_as_products_arrive_equal_brute_force(space: ActiveEncoder, media_root: Any, batch: int) -> None:
    # Given products embedded as uploads arrive, alone or a batch at a time
    rng = np.random.default_rng(3)
    vectors: dict[int, np.ndarray] = {}
    for start in range(0, 30, batch):
        arrived = []
        for n in range(start, start + batch):
            vector = unit(rng)
            product = photographed(vector, n)
            vectors[product.pk] = vector
            arrived.append(product.pk)
        product_vectors_recompute(product_ids=arrived)

    # Then every product's list is its exact top SIZE, nearest first, with its similarities
    for product_id in vectors:
        assert stored(product_id) == brute_force(vectors, product_id, SIZE), product_id
    row = ProductNeighbours.objects.get(product_id=next(iter(vectors)), space=Space.VISUAL)
    first = next(iter(vectors))
    expected = [float(vectors[n] @ vectors[first]) for n in row.neighbour_ids]
    np.testing.assert_allclose(row.similarities, expected, atol=2e-3)  # halfvec storage


def test_a_new_product_enters_its_look_alikes_list_in_the_transaction_that_writes_its_vectors(
    space: ActiveEncoder, media_root: Any
) -> None:
    rng = np.random.default_rng(5)
    base = unit(rng)
    products = [photographed(unit(rng), n) for n in range(14)]
    original = photographed(base, 100)
    product_vectors_recompute(product_ids=[p.pk for p in [*products, original]])
    assert len(stored(original.pk)) == SIZE

    twin_vector = base + 0.05 * unit(rng)
    twin = photographed(twin_vector / np.linalg.norm(twin_vector), 101)
    with transaction.atomic():
        product_vectors_recompute(product_ids=[twin.pk])
        # Inside the same transaction: the twin heads its original's list, and the original the twin's.
        assert stored(original.pk)[0] == twin.pk
        assert stored(twin.pk)[0] == original.pk
        assert len(stored(original.pk)) == SIZE, "the worst entry dropped off"
        transaction.set_rollback(True)

    assert twin.pk not in stored(original.pk), "rolled back with the vectors"


def test_a_product_whose_vector_changes_leaves_the_lists_its_old_vector_earned(
    space: ActiveEncoder, media_root: Any
) -> None:
    rng = np.random.default_rng(9)
    base = unit(rng)
    close = photographed(base + 0.01 * unit(rng), 1)
    mover = photographed(base, 2)
    far = [photographed(unit(rng), n) for n in range(10, 16)]
    product_vectors_recompute(product_ids=[close.pk, mover.pk, *(p.pk for p in far)])
    assert stored(close.pk)[0] == mover.pk

    # Its photo is replaced by one that looks like nothing else: the old closeness is gone.
    ImageVector.objects.filter(product=mover).update(embedding=(-base).tolist())
    product_vectors_recompute(product_ids=[mover.pk])

    assert mover.pk not in stored(close.pk)[:1]
    assert stored(mover.pk) == brute_force(
        {p.pk: np.asarray(ProductVector.objects.get(product=p).embedding, dtype=float) for p in [close, mover, *far]},
        mover.pk,
        SIZE,
    )


def test_the_bulk_rebuild_gives_every_list_and_resumes_after_an_interruption(
    space: ActiveEncoder, media_root: Any
) -> None:
    rng = np.random.default_rng(11)
    vectors = {}
    for n in range(40):
        vector = unit(rng)
        product = Product.objects.create(sku=f"RB-{n}", title=f"Rebuild {n}", price=Decimal("1.00"))
        ProductVector.objects.create(product=product, space=Space.VISUAL, encoder=ENCODER, embedding=vector.tolist())
        vectors[product.pk] = vector

    # An interrupted rebuild (the first batch committed, then the process died) resumes after that batch.
    seen: list[int] = []

    def stop_after_first_batch(done: int, total: int) -> None:
        seen.append(done)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        neighbour_lists_rebuild(encoder=space, batch_size=16, on_progress=stop_after_first_batch)
    assert ProductNeighbours.objects.count() == 16
    finished = neighbour_lists_rebuild(encoder=space, batch_size=16)

    assert finished.finished_at is not None and finished.done == 40 and finished.total == 40
    assert NeighbourRebuild.objects.count() == 1, "the interrupted run was resumed, not restarted"
    for product_id in vectors:
        assert stored(product_id) == brute_force(vectors, product_id, SIZE)


def test_a_vector_that_changes_while_a_rebuild_runs_is_in_the_lists_when_it_finishes(
    space: ActiveEncoder, media_root: Any
) -> None:
    # Given a catalogue whose rebuild runs in two batches
    rng = np.random.default_rng(13)
    vectors = {}
    for n in range(24):
        product = photographed(unit(rng), n)
        product_vectors_recompute(product_ids=[product.pk])
        vectors[product.pk] = np.asarray(ProductVector.objects.get(product=product).embedding, dtype=float)
    first_batch_head = min(vectors)
    late: list[int] = []

    def upload_a_look_alike_midway(done: int, total: int) -> None:
        # After the first batch: a near-copy of the first product arrives. The rebuild read the
        # vectors before it existed, and its first batch (which holds that product's list) is written.
        if done == 12 and not late:
            product = photographed(vectors[first_batch_head] + 0.01 * unit(rng), 99)
            product_vectors_recompute(product_ids=[product.pk])
            late.append(product.pk)

    neighbour_lists_rebuild(encoder=space, batch_size=12, on_progress=upload_a_look_alike_midway)

    [late_id] = late
    vectors[late_id] = np.asarray(ProductVector.objects.get(product_id=late_id).embedding, dtype=float)
    assert stored(first_batch_head)[0] == late_id
    for product_id in vectors:
        assert stored(product_id) == brute_force(vectors, product_id, SIZE), product_id
    assert NeighbourRebuild.objects.get().replay_ids == [late_id]


def test_a_second_rebuild_of_the_same_lists_stops_at_once_with_a_one_line_error(
    space: ActiveEncoder, media_root: Any
) -> None:
    product_vectors_recompute(product_ids=[photographed(unit(np.random.default_rng(1)), 1).pk])
    key = _lock_key("neighbours-rebuild", space)
    # Another process (its own connection) is rebuilding.
    with psycopg.connect(**psycopg_settings()) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [key])
        with pytest.raises(RebuildRunning):
            neighbour_lists_rebuild(encoder=space)
        with pytest.raises(CommandError, match="being rebuilt by another process"):
            call_command("neighbours_rebuild", "--no-progress")


def test_the_command_rebuilds_each_space_and_says_how_many_lists(
    space: ActiveEncoder, media_root: Any, capsys: Any
) -> None:
    rng = np.random.default_rng(17)
    products = [photographed(unit(rng), n) for n in range(12)]
    product_vectors_recompute(product_ids=[p.pk for p in products])
    ProductNeighbours.objects.all().delete()

    call_command("neighbours_rebuild", "--no-progress")

    assert ProductNeighbours.objects.filter(space=Space.VISUAL, encoder=ENCODER).count() == 12
    assert f"visual: {ENCODER}: 12 lists" in capsys.readouterr().out


def test_the_command_without_any_embedded_catalogue_exits_non_zero_with_one_line() -> None:
    with pytest.raises(CommandError, match="no encoder to rebuild lists for in visual, semantic"):
        call_command("neighbours_rebuild", "--no-progress")
