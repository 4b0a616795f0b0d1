"""A chat adapter for tests that keeps what it is asked to show, like a tiny chat server would.

It implements the real ChatAdapter interface (no patching of our code): threads and
messages live in dicts, refs are derived from the idempotency key the way Matrix
transaction ids behave, and it can be told to fail transiently to exercise retries.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from bot.chats.base import ChatError, ChatEvents
from bot.models import ChatEvent, MirroredComment, ThreadHeader


@dataclass
class Shown:
    thread_ref: str
    ref: str
    comment_id: int
    author: str
    text: str
    parent_ref: str | None
    deleted: bool = False
    edits: int = 0


@dataclass
class RecordingChat:
    name: str = "terminal"  # tests put it where the config's terminal chat would be
    label: str = "terminal"
    max_message_length: int = 2000
    events: ChatEvents | None = None
    threads: dict[str, ThreadHeader] = field(default_factory=dict)
    thread_channels: dict[str, str] = field(default_factory=dict)
    messages: dict[str, Shown] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    sends: int = 0
    fail_next: int = 0  # answer this many requests with a transient error
    fail_starts: int = 0  # refuse this many start() calls as if the server could not be reached

    def _maybe_fail(self) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise ChatError("simulated 503", transient=True, retry_after=0.01)

    async def start(self, events: ChatEvents) -> None:
        if self.fail_starts > 0:
            self.fail_starts -= 1
            raise ChatError("simulated: cannot reach the server", transient=True)
        self.events = events

    async def stop(self) -> None:
        pass

    async def health(self) -> str | None:
        return None

    async def open_thread(self, channel: str, header: ThreadHeader, key: str) -> str:
        self._maybe_fail()
        ref = "thread-" + hashlib.sha256(key.encode()).hexdigest()[:10]
        self.threads[ref] = header
        self.thread_channels[ref] = channel
        return ref

    async def send_comment(
        self, channel: str, thread_ref: str, message: MirroredComment, key: str, resuming: bool
    ) -> list[str]:
        self._maybe_fail()
        ref = "msg-" + hashlib.sha256(key.encode()).hexdigest()[:10]
        if ref not in self.messages:  # a resent key is recognised, like a Matrix txn id
            self.sends += 1
            self.order.append(ref)
            self.messages[ref] = Shown(
                thread_ref,
                ref,
                message.comment.id,
                message.comment.author_name,
                message.comment.html,
                message.parent.message_ref if message.parent else None,
            )
        return [ref]

    async def edit_comment(
        self, channel: str, thread_ref: str, refs: list[str], message: MirroredComment, key: str
    ) -> list[str]:
        self._maybe_fail()
        shown = self.messages[refs[0]]
        shown.text = message.comment.html
        shown.edits += 1
        return refs

    async def delete_messages(self, channel: str, thread_ref: str, refs: list[str]) -> None:
        self._maybe_fail()
        for ref in refs:
            self.messages[ref].deleted = True

    # -- helpers for tests -------------------------------------------------------------

    async def human_says(self, event: ChatEvent) -> None:
        assert self.events is not None
        await self.events.on_chat_event(event)

    def visible(self, thread_ref: str | None = None) -> list[Shown]:
        return [
            self.messages[r]
            for r in self.order
            if not self.messages[r].deleted
            and (thread_ref is None or self.messages[r].thread_ref == thread_ref)
        ]

    def ref_of(self, comment_id: int) -> str:
        return next(r for r in self.order if self.messages[r].comment_id == comment_id)
