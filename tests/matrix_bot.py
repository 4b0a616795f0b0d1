"""Runs the real bot (App + the Matrix adapter built by `build_chats`) against a real WordPress and Synapse.

Like tests/harness.py, tests drive polling themselves (`settle()`); what happens in Matrix
arrives through the adapter's own sync loop, so checks on that side wait with `eventually`.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from bot.chats import build_chats
from bot.chats.matrix import MatrixChat
from bot.config import Config
from bot.core.app import App
from bot.store import Store
from tests.realwp import RealWordPress
from tests.synapse import MatrixAccount, SynapseServer

T = TypeVar("T")
_unique = itertools.count(1)


def matrix_config(
    wp: RealWordPress,
    synapse: SynapseServer,
    bot: MatrixAccount,
    rooms: list[str],
    store: Path,
    *,
    pages: list[int] | None = None,
    thread_per: str = "page",
    login: str = "token",
    recheck_interval: float = 1,
    **matrix: Any,
) -> Config:
    chat: dict[str, Any] = {"homeserver": synapse.base_url, "user_id": bot.user_id, "rooms": rooms, **matrix}
    chat["password" if login == "password" else "access_token"] = (
        bot.password if login == "password" else bot.access_token
    )
    mirrors = []
    if pages is not None:
        mirrors.append(
            {
                "name": "m",
                "site": "site",
                "pages": pages,
                "thread_per": thread_per,
                "relay": "approved",
                "targets": [{"chat": "matrix", "channel": rooms[0]}],
            }
        )
    site = {
        "url": wp.base_url,
        "username": wp.bot_username,
        "app_password": wp.bot_app_password,
        "poll_interval": 1,
        "recheck_interval": recheck_interval,
    }
    return Config.model_validate(
        {"store": {"path": str(store)}, "sites": {"site": site}, "chats": {"matrix": chat}, "mirrors": mirrors}
    )


@dataclass
class MatrixBot:
    config: Config
    app: App | None = None
    store: Store | None = None

    @property
    def chat(self) -> MatrixChat:
        assert self.app is not None
        chat = self.app.chats["matrix"]
        assert isinstance(chat, MatrixChat)
        return chat

    async def start(self) -> App:
        """A fresh process: a new store connection, a new adapter (state comes from the store)."""
        self.store = await Store.open(self.config.store.path)
        self.app = App(
            self.config, self.store, build_chats(self.config, self.store, interactive=False), outbox_concurrency=8
        )
        self.app.outbox.backoff_base = 0.01
        # Connect the sites first, as a running bot's pollers soon do. (The core starts a source
        # only in its first poll, so a relay queued while the chats start, e.g. a Matrix reply
        # caught up after a restart, would find it unconnected and crash; with the tests' tiny
        # backoff it would be given up before the first poll. Reported to the core's owner.)
        for name, poller in self.app.pollers.items():
            await self.app.sources[name].start()
            poller.connected = True
        await self.app.start(poll=False)
        return self.app

    async def settle(self, recheck: bool = False, within: float = 60) -> None:
        assert self.app is not None
        for poller in self.app.pollers.values():
            await poller.poll_once(force_recheck=recheck)
        assert await self.app.outbox.wait_idle(within), "outbox did not drain"

    async def drain(self, within: float = 60) -> None:
        assert self.app is not None
        assert await self.app.outbox.wait_idle(within), "outbox did not drain"

    async def stop(self) -> None:
        if self.app is not None:
            await self.app.stop()
        if self.store is not None:
            await self.store.close()
        self.app = self.store = None

    async def thread_ref(self, post_id: int, root: int = 0) -> str:
        assert self.store is not None
        for key, ref in await self.store.threads():
            if key.post_id == post_id and key.root_comment_id == root:
                return ref
        raise AssertionError(f"no thread for post {post_id} root {root}")

    async def event_of(self, comment_id: int, room: str) -> str:
        assert self.store is not None
        parts = await self.store.message_parts("site", comment_id, "matrix", room)
        assert parts, f"comment {comment_id} was not mirrored"
        return parts[0].message_ref


async def eventually(check: Callable[[], Awaitable[T | None]], within: float = 20.0, what: str = "") -> T:
    """Awaits `check()` until it returns something truthy (not None, False or empty), and returns that."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.1)


def build_discussion(wp: RealWordPress) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A post with three threads and replies up to three levels deep, a second apart."""
    n = next(_unique)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    post = wp.create_post(f"Harbour ferry timetable, Matrix {n}", "<p>The ferry will run every 20 minutes.</p>")
    made: list[dict[str, Any]] = []

    def add(text: str, author: str, parent: int = 0) -> int:
        when = start + timedelta(seconds=len(made))
        comment = wp.add_comment(
            post["id"], f"{text} (m{n})", author, parent, date_gmt=when.strftime("%Y-%m-%dT%H:%M:%S")
        )
        made.append(comment)
        return int(comment["id"])

    a = add("Finally, a <em>sensible</em> timetable.", "Maren")
    b = add("@Maren not for the night shift. @room", "Oskar", a)
    add("@Oskar there is a 23:40 boat now.", "Maren", b)
    add("Agreed with Maren.", "Ida", a)
    c = add('What about <a href="https://example.org/bikes">bikes</a> on board?', "Tomas")
    add("Bikes ride free until March.", "Ferry Desk", c)
    add("Will the café stay open?", "Lena")
    return post, made
