"""The outbox against a real SQLite store: order per lane, retries, failures, crash recovery."""

import asyncio
import time
from pathlib import Path

import pytest

from bot.chats.base import ChatError
from bot.core.outbox import Done, Outbox, PermanentError
from bot.store import Job, NewJob, Store


@pytest.fixture
async def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = await Store.open(tmp_path / "t.db")
    yield s
    await s.close()


def jobs(lane: str, n: int, kind: str = "work") -> list[NewJob]:
    return [NewJob(f"{lane}-{i}", lane, kind, {"i": i}) for i in range(n)]


async def drain(outbox: Outbox, within: float = 10.0) -> None:
    task = asyncio.create_task(outbox.run())
    try:
        assert await outbox.wait_idle(within)
    finally:
        await outbox.stop()
        task.cancel()


async def test_each_lane_runs_in_order_while_lanes_run_side_by_side(store: Store) -> None:
    done: list[tuple[str, int]] = []
    running = 0
    peak = 0

    async def work(job: Job) -> Done:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        done.append((job.lane, job.payload["i"]))
        return Done()

    await store.enqueue(jobs("a", 5) + jobs("b", 5) + jobs("c", 5))
    await drain(Outbox(store, {"work": work}, concurrency=8))
    for lane in "abc":
        assert [i for name, i in done if name == lane] == [0, 1, 2, 3, 4]
    assert peak == 3  # one job per lane at a time, the three lanes together


async def test_same_key_is_only_queued_once(store: Store) -> None:
    assert await store.enqueue(jobs("a", 2)) == 2
    assert await store.enqueue(jobs("a", 3)) == 1


async def test_transient_errors_are_retried_and_told_they_may_have_landed(store: Store) -> None:
    seen: list[bool] = []

    async def flaky(job: Job) -> Done:
        seen.append(job.inflight)
        if len(seen) < 3:
            raise ChatError("503", transient=True, retry_after=0.01)
        return Done()

    await store.enqueue(jobs("a", 1, "flaky"))
    await drain(Outbox(store, {"flaky": flaky}, backoff_base=0.01))
    assert seen == [False, True, True]
    assert (await store.outbox_stats())["pending"] == 0


async def test_permanent_failure_is_recorded_and_the_lane_moves_on(store: Store) -> None:
    order: list[int] = []

    async def handler(job: Job) -> Done:
        order.append(job.payload["i"])
        if job.payload["i"] == 0:
            raise PermanentError("comments are closed on this post")
        return Done()

    await store.enqueue(jobs("a", 3, "h"))
    await drain(Outbox(store, {"h": handler}))
    assert order == [0, 1, 2]
    failing = await store.failing_jobs()
    assert failing[0][3] == "comments are closed on this post"
    assert (await store.outbox_stats())["failed"] == 1


async def test_a_job_interrupted_mid_attempt_is_resumed_as_in_flight(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "crash.db")
    await store.enqueue(jobs("a", 1, "h"))
    [job] = await store.next_jobs(0, set(), 1)
    await store.start_attempt(job.id)  # ... and the process dies here
    await store.close()

    store = await Store.open(tmp_path / "crash.db")
    seen: list[bool] = []

    async def handler(job: Job) -> Done:
        seen.append(job.inflight)
        return Done()

    await drain(Outbox(store, {"h": handler}))
    assert seen == [True]
    await store.close()


async def test_relays_go_before_a_backlog_of_deliveries(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "order.db")
    await store.enqueue([NewJob(f"post{n}", f"thread:{n}", "h", {}) for n in range(20)])
    await store.enqueue([NewJob("relay1", "relay:matrix:t1", "h", {})])
    first = await store.next_jobs(time.time(), set(), 4)
    assert first[0].key == "relay1" and [j.key for j in first[1:]] == ["post0", "post1", "post2"]
    await store.close()
