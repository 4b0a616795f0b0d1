"""Signed push notifications from the companion WordPress plugin (integrations/wordpress/).

The plugin sends `{"event": ..., "comment_id": N, "post_id": N, "nonce": ...}` with two headers:
`X-ThreadMirror-Timestamp` (Unix seconds) and `X-ThreadMirror-Signature: sha256=<hex>`, the
HMAC-SHA256 of `f"{timestamp}.{body}"` under the site's `push_secret`. A notification is accepted
when the signature matches (compared in constant time), the timestamp is within `max_age` of our
clock (either way: clocks drift), and the same signature was not accepted within that window.

The replay memory lives in memory, not SQLite: a notification carries no content, only "look at
comment N", which the bot then fetches through the REST API. A replay that slips through after
a restart costs one extra fetch and changes nothing, so a store write per push would buy nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

TIMESTAMP_HEADER = "X-ThreadMirror-Timestamp"
SIGNATURE_HEADER = "X-ThreadMirror-Signature"
MAX_BODY = 4096  # the plugin's notifications are ~150 bytes
REPLAY_CAPACITY = 50_000  # signatures remembered at most (a flood needs the secret to get here)


class PushRefused(Exception):
    """Why a notification is refused, with the HTTP status to answer."""

    def __init__(self, status: int, reason: str, result: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.result = result  # the metrics label: bad_signature, stale, replay, malformed


@dataclass(frozen=True)
class Notice:
    event: str
    comment_id: int
    post_id: int | None


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for this timestamp and body (the plugin computes the same)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class ReplayGuard:
    """Remembers accepted signatures until their timestamp leaves the window."""

    def __init__(self, max_age: float, capacity: int = REPLAY_CAPACITY, clock: Callable[[], float] = time.time) -> None:
        self.max_age = max_age
        self.capacity = capacity
        self.clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()  # signature → when it may be forgotten

    def first_time(self, signature: str, timestamp: float) -> bool:
        """True (and remembered) the first time a signature is seen within its window."""
        now = self.clock()
        while self._seen and (next(iter(self._seen.values())) < now or len(self._seen) >= self.capacity):
            self._seen.popitem(last=False)
        if signature in self._seen:
            return False
        self._seen[signature] = max(timestamp, now) + self.max_age
        return True


def verify(
    secret: str, timestamp: str | None, signature: str | None, body: bytes, max_age: float, now: float
) -> float:
    """The notification's timestamp when its signature and age are right; else PushRefused."""
    if not timestamp or not signature:
        raise PushRefused(401, f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER}", "bad_signature")
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.strip()):
        raise PushRefused(401, "bad signature", "bad_signature")
    try:
        sent = float(timestamp)
    except ValueError:
        raise PushRefused(401, "timestamp is not a number", "bad_signature") from None
    if not abs(now - sent) <= max_age:  # also refuses NaN
        raise PushRefused(401, f"stale timestamp ({now - sent:+.0f}s off; check the clocks)", "stale")
    return sent


def parse(body: bytes) -> Notice:
    """The notification's fields; only the comment id is used (its content is fetched, never taken)."""
    try:
        data = json.loads(body)
    except ValueError:
        raise PushRefused(400, "body is not JSON", "malformed") from None
    comment_id = data.get("comment_id") if isinstance(data, dict) else None
    if isinstance(comment_id, str) and comment_id.isdigit():
        comment_id = int(comment_id)
    if not isinstance(comment_id, int) or isinstance(comment_id, bool) or comment_id <= 0:
        raise PushRefused(400, "comment_id must be a positive integer", "malformed")
    post_id = data.get("post_id")
    return Notice(
        event=str(data.get("event", ""))[:40],
        comment_id=comment_id,
        post_id=int(post_id) if isinstance(post_id, int) and not isinstance(post_id, bool) else None,
    )


def accept(
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    guard: ReplayGuard,
    now: float | None = None,
) -> Notice:
    """Verify, refuse replays, parse: the whole check of one notification."""
    sent = verify(secret, timestamp, signature, body, guard.max_age, guard.clock() if now is None else now)
    notice = parse(body)
    assert signature is not None  # verify() refused a missing one
    if not guard.first_time(signature.strip(), sent):
        raise PushRefused(409, "already received (replay)", "replay")
    return notice
