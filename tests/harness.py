"""Runs the real bot (App) against a site, with recording chats, step by step.

Tests drive time themselves: `settle()` polls every site once and waits until the
outbox has nothing left to do, so assertions never race the bot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config import Config
from bot.core.app import App
from bot.store import Store
from tests.recording_chat import RecordingChat


def site_config(url: str, username: str | None, password: str | None, store: Path, **mirror: Any) -> Config:
    site: dict[str, Any] = {"url": url, "poll_interval": 1, "recheck_interval": 1}
    if username:
        site.update(username=username, app_password=password)
    targets = mirror.pop("targets", [{"chat": "terminal", "channel": "main"}])
    return Config.model_validate(
        {
            "store": {"path": str(store)},
            "sites": {"site": site},
            "chats": {"terminal": {"enabled": True}},  # the tests put a RecordingChat in its place
            "mirrors": [{"name": "m", "site": "site", "targets": targets, "relay": "approved", **mirror}],
        }
    )


@dataclass
class Bot:
    config: Config
    chats: dict[str, RecordingChat]
    app: App | None = None
    store: Store | None = None
    runs: int = field(default=0)

    async def start(self) -> App:
        self.store = await Store.open(self.config.store.path)
        self.app = App(self.config, self.store, dict(self.chats), outbox_concurrency=8)
        self.app.outbox.backoff_base = 0.01
        await self.app.start(poll=False)
        self.runs += 1
        return self.app

    async def settle(self, recheck: bool = False) -> None:
        assert self.app is not None
        for poller in self.app.pollers.values():
            await poller.poll_once(force_recheck=recheck)
        assert await self.app.outbox.wait_idle(30), "outbox did not drain"

    async def stop(self) -> None:
        if self.app is not None:
            await self.app.stop()
        if self.store is not None:
            await self.store.close()
        self.app = self.store = None

    async def restart(self) -> App:
        await self.stop()
        return await self.start()
