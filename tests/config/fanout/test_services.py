"""The fan-out machinery with a job of its own: shards cut evenly, each stored once, the finish run once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from config.fanout import jobs
from config.fanout.jobs import ShardedJob, forget_loaded
from config.fanout.models import FanOut
from config.fanout.services import fanout_enqueue, fanout_start, shard_bounds
from tests.config.fanout.messages import committed, drain, finish, published, purge_queues, shard
from tests.config.fanout.messages import empty_queues as empty_queues  # the fixture

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_queues")]


class Recording(ShardedJob[list[int], list[int]]):
    """Keys are the catalogue; a shard's result is its keys; what was stored and finished is recorded."""

    loads = 0
    stored: list[list[int]] = []
    finished: list[int] = []

    def load(self, fanout: FanOut) -> list[int] | None:
        Recording.loads += 1
        keys: list[int] = fanout.params["keys"]
        return keys

    def compute(self, fanout: FanOut, loaded: list[int], low: int, high: int) -> list[int]:
        return [key for key in loaded if low < key <= high]

    def store(self, fanout: FanOut, result: list[int]) -> None:
        Recording.stored.append(result)

    def finish(self, fanout: FanOut) -> None:
        Recording.finished.append(fanout.job_id)


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(jobs.JOBS, "recording", f"{__name__}.Recording")
    jobs.job_for.cache_clear()
    Recording.loads, Recording.stored, Recording.finished = 0, [], []
    forget_loaded()
    yield
    jobs.job_for.cache_clear()
    forget_loaded()


def start(keys: list[int], shards: int) -> FanOut:
    return committed(
        lambda: fanout_start(kind="recording", job_id=7, keys=np.array(keys), shards=shards, params={"keys": keys})
    )


def test_keys_are_cut_into_contiguous_ranges_of_near_equal_size_with_no_empty_shard() -> None:
    assert shard_bounds(np.array([2, 3, 5, 8, 13]), 2) == [(0, 5), (5, 13)]
    assert shard_bounds(np.array([2, 3, 5, 8, 13]), 3, after=1) == [(1, 3), (3, 8), (8, 13)]
    assert shard_bounds(np.array([4, 9]), 5) == [(0, 4), (4, 9)]
    assert shard_bounds(np.array([], dtype=np.int64), 3) == []
    with pytest.raises(ValueError, match="shards must be >= 1"):
        shard_bounds(np.array([1]), 0)


@pytest.mark.usefixtures("recording")
def test_each_shard_is_stored_once_and_the_last_one_sends_the_finish() -> None:
    # Given a run of 3 shards, one message each on the broker
    fanout = start(list(range(1, 10)), 3)
    sent = published()
    assert sent == [shard(fanout.pk, 0), shard(fanout.pk, 1), shard(fanout.pk, 2)]

    # When every message is run, and those they send (the finish), and the first shard's a second time (a redelivery)
    assert drain(*sent) == [True, True, True, True]
    assert sent[0].run() is False

    # Then each shard was stored once, the catalogue loaded once by this process, the finish sent and run once
    assert Recording.stored == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert Recording.loads == 1
    assert Recording.finished == [7]
    fanout.refresh_from_db()
    assert fanout.shards_done == 3 and fanout.finished_at is not None
    assert finish(fanout.pk).run() is False, "a second finish message finds it done"
    assert published() == []


@pytest.mark.usefixtures("recording")
def test_resuming_resends_only_the_unfinished_shards_or_a_lost_finish() -> None:
    # Given a run whose worker died after its first shard (the other messages were lost with it)
    fanout = start(list(range(1, 10)), 3)
    (first,) = published(1)
    assert first == shard(fanout.pk, 0) and first.run() is True
    purge_queues()

    # When it is resumed, the rest are sent again, and only they
    committed(lambda: fanout_enqueue(fanout))
    resent = published()
    assert resent == [shard(fanout.pk, 1), shard(fanout.pk, 2)]

    # And when every shard is done but the finish message was lost, resuming sends the finish
    assert [message.run() for message in resent] == [True, True]
    assert published() == [finish(fanout.pk)], "the last shard sent the finish, lost here"
    assert Recording.finished == []
    committed(lambda: fanout_enqueue(fanout))
    assert published() == [finish(fanout.pk)]
    assert finish(fanout.pk).run() is True
    assert Recording.finished == [7] and len(Recording.stored) == 3


@pytest.mark.usefixtures("recording")
def test_a_shard_of_a_discarded_run_does_nothing(caplog: Any) -> None:
    fanout = start([1, 2], 2)
    FanOut.objects.filter(pk=fanout.pk).delete()

    assert drain() == [False, False]

    assert Recording.stored == [] and Recording.finished == []
    assert "gone or done" in caplog.text
