"""Per-user sliding-window limits (summaries asked for, replies relayed to the site).

In memory on purpose: a restart gives everybody a fresh allowance, which costs little, and a
limiter must not add a store write to every message.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


def _requests(n: int) -> str:
    return f"made {n} request{'' if n == 1 else 's'}"


class RateLimited(Exception):
    def __init__(
        self, retry_after: float, limit: int, window: float, action: Callable[[int], str] = _requests
    ) -> None:
        self.retry_after, self.limit, self.window = retry_after, limit, window
        super().__init__(
            f"you have {action(limit)} in the last {minutes(window)}; try again in {minutes(retry_after)}"
        )


def minutes(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, math.ceil(seconds))} s"
    return f"{math.ceil(seconds / 60)} min"


class RateLimiter:
    """At most `limit` uses per `window` seconds per user (a sliding window)."""

    def __init__(
        self,
        limit: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        action: Callable[[int], str] = _requests,
    ) -> None:
        """`action` words what was done n times, for the refusal: "asked for 3 summaries"."""
        self.limit, self.window, self.clock, self.action = limit, window, clock, action
        self._seen: dict[str, deque[float]] = {}

    def check(self, user: str) -> None:
        """Raise RateLimited when `user` has used up the allowance (does not use any of it)."""
        if self.limit <= 0:
            return
        now = self.clock()
        times = self._seen.get(user)
        if times is None:
            return
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._seen[user]
        elif len(times) >= self.limit:
            raise RateLimited(times[0] + self.window - now, self.limit, self.window, self.action)

    def spend(self, user: str) -> None:
        if self.limit > 0:
            self._seen.setdefault(user, deque()).append(self.clock())
            if len(self._seen) > 10_000:  # forget the quietest users rather than grow without end
                for key in list(self._seen)[:1000]:
                    del self._seen[key]
