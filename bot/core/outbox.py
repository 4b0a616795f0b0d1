"""The outbox worker: drains stored jobs with retries, backoff and per-lane order.

A job is marked in flight before its handler touches a peer, and done together with
its bookkeeping after. A crash in between leaves it in flight: the next attempt is
told so (`job.inflight`) and reuses the same idempotency key, so the peer (or our
reconciliation) sees one delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.chats.base import ChatError
from bot.sources.base import SourceError
from bot.store import Job, MapRow, Store, ThreadKey

log = logging.getLogger(__name__)

BACKOFF_BASE = 1.0
BACKOFF_CAP = 600.0
MAX_UNEXPECTED_ATTEMPTS = 5


@dataclass
class Done:
    """What a finished job records along with its completion."""

    add_map: list[MapRow] = field(default_factory=list)
    remove_map: list[tuple[str, str]] = field(default_factory=list)
    thread: tuple[ThreadKey, str] | None = None
    recorded: bool = False  # the handler already marked the job done (under a lock of its own)


class PermanentError(Exception):
    """This job can never succeed as it is (shown to admins, then skipped)."""


Handler = Callable[[Job], Awaitable[Done]]
Observer = Callable[[Job, str, float], None]  # (job, "delivered" | "retry" | "failed", seconds it took)


def backoff_delay(
    attempts: int, retry_after: float | None = None, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP
) -> float:
    """Exponential backoff with jitter; a peer's own retry_after wins when it is longer."""
    delay: float = min(cap, base * 2.0 ** max(0, attempts - 1)) * random.uniform(0.5, 1.0)
    return max(delay, retry_after or 0.0)


class Outbox:
    def __init__(
        self,
        store: Store,
        handlers: dict[str, Handler],
        concurrency: int = 16,
        backoff_base: float = BACKOFF_BASE,
    ) -> None:
        self.store = store
        self.backoff_base = backoff_base
        self.handlers = handlers
        self.concurrency = concurrency
        self.delivered = 0
        self.failed = 0
        self._wake = asyncio.Event()
        self._busy: dict[str, asyncio.Task[None]] = {}
        self._stopping = False
        self.observe: Observer | None = None  # the metrics hear of every outcome

    def _note(self, job: Job, outcome: str, started: float | None = None) -> None:
        if self.observe is not None:
            self.observe(job, outcome, 0.0 if started is None else time.monotonic() - started)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Work until stopped: start each idle lane's oldest due job, up to `concurrency` at once."""
        while not self._stopping:
            self._wake.clear()
            free = self.concurrency - len(self._busy)
            if free > 0:
                for job in await self.store.next_jobs(time.time(), set(self._busy), free):
                    task = asyncio.create_task(self._attempt(job), name=f"job-{job.id}")
                    self._busy[job.lane] = task
                    task.add_done_callback(functools.partial(self._lane_done, job.lane))
            # Every due job of an idle lane has started (or all slots are full, and a finishing
            # job wakes us); otherwise sleep until the next retry falls due or a job is queued.
            due = await self.store.next_due_time(after=time.time())
            timeout = 30.0 if due is None else min(30.0, max(0.01, due - time.time()))
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that
            # arrives as the event is set (a job just finished), and stopping would hang.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    def _lane_done(self, lane: str, _task: asyncio.Task[None]) -> None:
        self._busy.pop(lane, None)
        self._wake.set()

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        for task in list(self._busy.values()):
            task.cancel()
        await asyncio.gather(*self._busy.values(), return_exceptions=True)

    async def wait_idle(self, within: float, horizon: float | None = None) -> bool:
        """Until no job runs and none is pending (for tests and backfill); False on timeout.

        A job waiting for a retry counts as work left, however far ahead; with `horizon`, only jobs
        due within that many seconds do."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if not self._busy and not await self._work_left(horizon):
                return True
            self._wake.set()
            await asyncio.sleep(0.05)
        return False

    async def _work_left(self, horizon: float | None) -> bool:
        if horizon is None:
            return bool((await self.store.outbox_stats())["pending"])
        return bool(await self.store.next_jobs(time.time() + horizon, set(), 1))

    async def _attempt(self, job: Job) -> None:
        handler = self.handlers.get(job.kind)
        if handler is None:
            await self.store.fail_job(job.id, f"no handler for job kind {job.kind!r}")
            return
        await self.store.start_attempt(job.id)
        attempts = job.attempts + 1
        started = time.monotonic()
        try:
            done = await handler(job)
        except asyncio.CancelledError:
            raise
        except PermanentError as exc:
            await self._give_up(job, str(exc))
        except (ChatError, SourceError) as exc:
            if not exc.transient:
                await self._give_up(job, str(exc))
                return
            retry_after = exc.retry_after if isinstance(exc, ChatError) else None
            delay = backoff_delay(attempts, retry_after, self.backoff_base)
            log.warning("%s %s failed (attempt %d), retrying in %.0fs: %s", job.kind, job.key, attempts, delay, exc)
            self._note(job, "retry")
            await self.store.retry_job(job.id, delay, str(exc), still_inflight=True)
        except Exception as exc:  # a bug: keep the job, but do not loop on it forever
            log.exception("%s %s crashed (attempt %d)", job.kind, job.key, attempts)
            if attempts >= MAX_UNEXPECTED_ATTEMPTS:
                await self._give_up(job, f"internal error: {exc!r}")
            else:
                self._note(job, "retry")
                await self.store.retry_job(
                    job.id, backoff_delay(attempts, base=self.backoff_base), repr(exc), still_inflight=True
                )
        else:
            if not done.recorded:
                await self.store.finish_job(job.id, done.add_map, done.remove_map, done.thread)
            self.delivered += 1
            self._note(job, "delivered", started)

    async def _give_up(self, job: Job, error: str) -> None:
        log.error("%s %s failed for good: %s", job.kind, job.key, error)
        self.failed += 1
        self._note(job, "failed")
        await self.store.fail_job(job.id, error)
