"""`neighbours_rebuild --shards N`: the stored lists rebuilt in Celery tasks, with the single rebuild's guarantees."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from config.fanout.jobs import forget_loaded
from embeddings.models import NeighbourRebuild, ProductNeighbours, ProductVector, Space
from embeddings.neighbour_shards import neighbour_lists_rebuild_fan_out
from embeddings.neighbours import RebuildRunning, neighbour_lists_rebuild
from embeddings.selectors import ActiveEncoder
from embeddings.services import product_vectors_recompute
from tests.config.fanout.messages import committed, drain, published, shard
from tests.config.fanout.messages import empty_queues as empty_queues  # the fixture
from tests.embeddings.test_neighbours import SIZE, brute_force, photographed, stored, unit
from tests.embeddings.test_neighbours import space as space  # the fixture: a registered visual encoder
from tests.fixtures_worker import WorkerProcess


def catalogue(count: int, seed: int) -> dict[int, np.ndarray]:
    """`count` embedded products, their lists kept live; their stored product vectors by id."""
    rng = np.random.default_rng(seed)
    products = [photographed(unit(rng), n) for n in range(count)]
    product_vectors_recompute(product_ids=[p.pk for p in products])
    return {
        pid: np.asarray(vector, dtype=float)
        for pid, vector in ProductVector.objects.filter(space=Space.VISUAL).values_list("product_id", "embedding")
    }


def all_lists() -> dict[int, list[int]]:
    return {pid: list(ids) for pid, ids in ProductNeighbours.objects.values_list("product_id", "neighbour_ids")}


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_rebuild_run_in_shards_by_the_worker_gives_the_single_rebuilds_lists(
    space: ActiveEncoder, celery_worker: WorkerProcess
) -> None:
    # Given a catalogue and the lists the single-process rebuild gives it
    vectors = catalogue(30, seed=21)
    neighbour_lists_rebuild(encoder=space)
    expected = all_lists()
    ProductNeighbours.objects.all().delete()
    out = io.StringIO()

    # When the rebuild runs in 3 shards on the real worker
    call_command("neighbours_rebuild", "--space", "visual", "--shards", "3", "--no-progress", stdout=out)

    # Then every list is the single rebuild's, and brute force's
    assert all_lists() == expected
    assert all(expected[pid] == brute_force(vectors, pid, SIZE) for pid in vectors)
    run = NeighbourRebuild.objects.get()
    assert run.finished_at is not None and (run.done, run.total) == (30, 30)
    assert "3 of 3 shards queued for the workers" in out.getvalue()
    assert "visual: neighbours-visual@1: 30 lists" in out.getvalue()


@pytest.mark.django_db
@pytest.mark.usefixtures("empty_queues")
def test_a_vector_that_changes_while_a_sharded_rebuild_runs_is_in_the_lists_when_it_finishes(
    space: ActiveEncoder, media_root: Any
) -> None:
    # Given a rebuild in 2 shards whose first shard is written from the vectors this process read
    # (and whose second message was lost with the worker that had taken it)
    vectors = catalogue(24, seed=23)
    forget_loaded()
    _, fanout, _ = committed(lambda: neighbour_lists_rebuild_fan_out(encoder=space, shards=2))
    first, _lost = published()
    assert first == shard(fanout.pk, 0) and first.run() is True

    # When a near-copy of the first product arrives before the second shard runs (in this process,
    # which kept the catalogue it loaded for the first), resumed by the command
    head = min(vectors)
    late = photographed(vectors[head] + 0.01 * unit(np.random.default_rng(1)), 99)
    product_vectors_recompute(product_ids=[late.pk])
    vectors[late.pk] = np.asarray(ProductVector.objects.get(product=late).embedding, dtype=float)
    committed(lambda: call_command("neighbours_rebuild", "--shards", "2", "--no-wait", "--no-progress"))
    resent = published()
    assert resent == [shard(fanout.pk, 1)]
    assert drain(*resent) == [True, True], "the shard, then the finish it sent"

    # Then the finish replayed it: every list is brute force's over the catalogue as it now is
    assert stored(head)[0] == late.pk
    assert all(stored(pid) == brute_force(vectors, pid, SIZE) for pid in vectors)
    run = NeighbourRebuild.objects.get()
    assert run.replay_ids == [late.pk] and run.finished_at is not None
    forget_loaded()


@pytest.mark.django_db
@pytest.mark.usefixtures("empty_queues")
def test_a_single_rebuild_stops_while_one_runs_in_shards_and_bad_shards_exit_with_one_line(
    space: ActiveEncoder, media_root: Any
) -> None:
    catalogue(4, seed=25)
    with pytest.raises(CommandError, match=r"^--shards must be at least 1, got 0$"):
        call_command("neighbours_rebuild", "--shards", "0")

    # A rebuild running in shards (its messages on the broker, no worker consuming them yet)
    _, fanout, _ = committed(lambda: neighbour_lists_rebuild_fan_out(encoder=space, shards=2))
    assert published() == [shard(fanout.pk, 0), shard(fanout.pk, 1)]
    with pytest.raises(RebuildRunning, match="being rebuilt in shards by the workers"):
        neighbour_lists_rebuild(encoder=space)
