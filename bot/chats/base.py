"""The interface every chat platform implements.

The core calls these methods from outbox jobs; each takes an idempotency `key` that is
stable across retries and restarts (use it as Matrix's transaction id or Discord's nonce).
Incoming messages, edits, deletions and commands go to the core through `ChatEvents`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.models import ChatEvent, CommandCall, MirroredComment, ThreadHeader


class ChatError(Exception):
    """A chat request failed. `transient` ones are retried; `retry_after` (seconds) says when."""

    def __init__(self, message: str, *, transient: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after


class ChatEvents(Protocol):
    """Where an adapter delivers what happens in chat."""

    async def on_chat_event(self, event: ChatEvent) -> None: ...

    async def on_command(self, call: CommandCall) -> None: ...


class ChatAdapter(Protocol):
    name: str  # its key under `chats:` in the config
    label: str  # how relayed comments name the platform: "Alice (via <label>)"
    max_message_length: int

    async def start(self, events: ChatEvents) -> None:
        """Connect and begin delivering events; returns once connected."""

    async def stop(self) -> None: ...

    async def open_thread(self, channel: str, header: ThreadHeader, key: str) -> str:
        """Make (or find, when `key` was used before) the chat thread for a page; return its ref."""

    async def send_comment(
        self, channel: str, thread_ref: str, message: MirroredComment, key: str, resuming: bool
    ) -> list[str]:
        """Post a site comment into a thread, split as the platform needs; return one ref per part.

        `resuming` is true when an earlier attempt with this key may have reached the platform.
        """

    async def edit_comment(
        self, channel: str, thread_ref: str, refs: list[str], message: MirroredComment, key: str
    ) -> list[str]:
        """Replace a mirrored comment's parts with its new text; return the refs of all parts now."""

    async def delete_messages(self, channel: str, thread_ref: str, refs: list[str]) -> None: ...

    async def health(self) -> str | None:
        """None when all is well, else what an admin should know (shown by `mirror status`)."""


def is_connected(chat: object) -> bool:
    """Whether a chat adapter is connected to its platform, for /healthz.

    An adapter that can lose its connection (Matrix, Discord) has a `connected` attribute or
    property; one without it (the terminal) is always connected.
    """
    return bool(getattr(chat, "connected", True))


Responder = Callable[[str], Awaitable[None]]
