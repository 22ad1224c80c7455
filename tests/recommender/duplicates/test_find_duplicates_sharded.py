"""`find_duplicates --shards N`: the full scan fanned out over Celery gives the single scan's pairs, resumably."""

from __future__ import annotations

import io
import re
from typing import Any

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from config.fanout.models import FanOut
from recommender.duplicates.models import DuplicateGroup, DuplicatePair, DuplicateScan
from recommender.duplicates.scan import _SCAN_LOCK_KEY
from recommender.duplicates.scan_shards import duplicates_scan_fan_out
from tests.config.fanout.messages import committed, drain, published, purge_queues, shard
from tests.config.fanout.messages import empty_queues as empty_queues  # the fixture
from tests.fixtures_worker import WorkerProcess
from tests.recommender.duplicates.conftest import Vectors, relistings
from tests.recommender.duplicates.test_find_duplicates import planted_catalog

pytestmark = pytest.mark.usefixtures("visual_space")
SHARD_DONE = re.compile(r"fanout\.tasks\.run_shard\[[^\]]+\] succeeded")


def catalogue(vectors: Vectors) -> None:
    """Near-copies found by their vectors, and turned and greyscale copies found by their pHashes."""
    planted_catalog(vectors, originals=6)
    relistings(vectors, original_turns=False)


def pairs() -> set[tuple[Any, ...]]:
    return set(
        DuplicatePair.objects.values_list(
            "product_low", "product_high", "image_low", "image_high", "tier", "phash_distance", "same_bytes"
        )
    )


def groups() -> set[frozenset[int]]:
    return {frozenset(group.members.values_list("product_id", flat=True)) for group in DuplicateGroup.objects.all()}


def single_scan_result() -> tuple[set[tuple[Any, ...]], set[frozenset[int]]]:
    """What the single-process scan stores; then the pairs and groups are cleared for the next scan."""
    call_command("find_duplicates", "--no-progress", stdout=io.StringIO())
    result = pairs(), groups()
    DuplicateGroup.objects.all().delete()
    DuplicatePair.objects.all().delete()
    return result


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_scan_run_in_shards_by_the_worker_stores_exactly_the_single_scans_pairs_and_groups(
    vectors: Vectors, celery_worker: WorkerProcess
) -> None:
    # Given a catalogue with duplicates, and what the single-process scan finds in it
    catalogue(vectors)
    expected_pairs, expected_groups = single_scan_result()
    assert len(expected_pairs) == 9
    celery_worker.mark_log()
    out = io.StringIO()

    # When the scan runs in 3 shards on the real worker (the command waits for it)
    call_command("find_duplicates", "--shards", "3", "--no-progress", stdout=out)

    # Then the worker ran each shard once, and the same pairs and groups are stored
    assert len(SHARD_DONE.findall(celery_worker.new_log())) == 3
    assert pairs() == expected_pairs
    assert groups() == expected_groups
    scan = DuplicateScan.objects.latest("pk")
    assert (scan.status, scan.images_scanned, scan.images_total) == ("done", 32, 32)
    assert "3 of 3 shards queued for the workers" in out.getvalue()
    assert "scanned 32 of 32 photos" in out.getvalue()


@pytest.mark.django_db
@pytest.mark.usefixtures("empty_queues")
def test_an_interrupted_sharded_scan_resumes_only_its_unfinished_shards_and_a_redelivery_stores_nothing(
    vectors: Vectors,
) -> None:
    # Given the single scan's result, and a scan in 4 shards whose worker died after two of them
    # (it had taken the other two messages off the broker: they were lost with it)
    catalogue(vectors)
    expected_pairs, expected_groups = single_scan_result()
    scan, fanout, _ = committed(lambda: duplicates_scan_fan_out(shards=4))
    first, second = published(2)
    assert (first, second) == (shard(fanout.pk, 0), shard(fanout.pk, 1))
    assert first.run() and second.run()
    assert first.run() is False, "a redelivered shard finds itself done"
    purge_queues()
    halfway = DuplicateScan.objects.get(pk=scan.pk)
    assert halfway.images_scanned == 16 and halfway.status == "running"

    # When find_duplicates --shards is run again
    out = io.StringIO()
    committed(lambda: call_command("find_duplicates", "--shards", "4", "--no-wait", stdout=out))

    # Then only the two unfinished shards are sent again, and once they and the finish are done
    # the pairs and groups are the single scan's, every photo searched once
    resent = published()
    assert resent == [shard(fanout.pk, 2), shard(fanout.pk, 3)]
    assert f"scan {scan.pk}: resuming, 2 of 4 shards queued" in out.getvalue()
    assert drain(*resent) == [True, True, True], "both shards, then the finish the last one sent"
    scan.refresh_from_db()
    assert (scan.status, scan.images_scanned) == ("done", 32)
    assert pairs() == expected_pairs and groups() == expected_groups
    assert FanOut.objects.get().finished_at is not None


@pytest.mark.django_db
@pytest.mark.usefixtures("empty_queues")
def test_bad_input_and_a_scan_already_running_exit_non_zero_with_one_line(vectors: Vectors) -> None:
    catalogue(vectors)
    with pytest.raises(CommandError, match=r"^--shards must be at least 1, got 0$"):
        call_command("find_duplicates", "--shards", "0")

    # A scan running in shards (its messages on the broker, no worker consuming them yet):
    # the single-process scan does not take its row over
    _, fanout, _ = committed(lambda: duplicates_scan_fan_out(shards=2))
    assert published() == [shard(fanout.pk, 0), shard(fanout.pk, 1)]
    with pytest.raises(CommandError, match=r"^scan \d+ is running in shards on the workers: follow it with"):
        call_command("find_duplicates", "--no-progress")

    # A scan running in another process (it holds the scan lock): --shards does not start a second one
    params = {k: v for k, v in connection.get_connection_params().items() if k not in {"cursor_factory", "context"}}
    with psycopg.connect(**params) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [_SCAN_LOCK_KEY])
        with pytest.raises(CommandError, match=r"^another find_duplicates scan is running$"):
            call_command("find_duplicates", "--shards", "2", "--no-wait")
    assert published() == [], "nothing was sent"
