"""Running the real bot (App + the Discord adapter on discord.py) against the fake Discord."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.chats.discord import DiscordChat
from bot.config import Config
from bot.core.app import App
from bot.store import Store
from tests.fake_discord.server import FakeDiscord

WATCHED_LOGGERS = ("discord", "bot", "aiohttp")


class ErrorWatch(logging.Handler):
    """Collects ERROR records of discord.py, aiohttp and the bot, and asyncio's unhandled exceptions.

    discord.py only logs what goes wrong inside its event handlers and tasks; a test that
    passes while such errors were logged would hide bugs, so tests fail on them.
    """

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []
        self.allowed: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = f"{record.name}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            text += f" ({record.exc_info[1]!r})"
        self.records.append(text)

    def allow(self, fragment: str) -> None:
        """An error the test expects (it is then not a failure)."""
        self.allowed.append(fragment)

    def unexpected(self) -> list[str]:
        return [r for r in self.records if not any(a in r for a in self.allowed)]

    def loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        self.records.append(f"asyncio: {context.get('message')} {exc!r}")


@asynccontextmanager
async def watch_errors() -> AsyncIterator[ErrorWatch]:
    watch = ErrorWatch()
    loggers = [logging.getLogger(name) for name in WATCHED_LOGGERS]
    for logger in loggers:
        logger.addHandler(watch)
    loop = asyncio.get_running_loop()
    old_handler = loop.get_exception_handler()
    loop.set_exception_handler(watch.loop_exception)
    try:
        yield watch
    finally:
        loop.set_exception_handler(old_handler)
        for logger in loggers:
            logger.removeHandler(watch)


def discord_config(fake: FakeDiscord, guild_ids: list[int], store: Path, **extra: Any) -> dict[str, Any]:
    """The `chats.discord` section that points the adapter at the fake."""
    return {"token": fake.token, "guilds": guild_ids, "api_base": fake.api_base, **extra}


def bot_config(
    site_url: str,
    username: str | None,
    password: str | None,
    store: Path,
    discord_section: dict[str, Any],
    targets: list[dict[str, str]],
    **mirror: Any,
) -> Config:
    site: dict[str, Any] = {"url": site_url, "poll_interval": 1, "recheck_interval": 1}
    if username:
        site.update(username=username, app_password=password)
    mirrors = [{"name": "m", "site": "site", "targets": targets, "relay": "approved", **mirror}] if targets else []
    return Config.model_validate(
        {
            "store": {"path": str(store)},
            "sites": {"site": site},
            "chats": {"discord": discord_section},
            "mirrors": mirrors,
        }
    )


@dataclass
class DiscordBot:
    """The real App with the Discord adapter, started and stopped like the process would be."""

    config: Config
    adapter: DiscordChat | None = None
    app: App | None = None
    store: Store | None = None
    runs: int = field(default=0)

    async def start(self) -> App:
        self.store = await Store.open(self.config.store.path)
        settings = self.config.chats.discord
        assert settings is not None
        if self.adapter is None:
            self.adapter = DiscordChat(settings, self.store, guild_ready_timeout=0.01)
        self.adapter.store = self.store
        self.app = App(self.config, self.store, {"discord": self.adapter}, outbox_concurrency=8)
        self.app.outbox.backoff_base = 0.01
        await self.app.start(poll=False)
        self.runs += 1
        return self.app

    async def settle(self, recheck: bool = False, within: float = 60) -> None:
        """Poll every site once, hand over what Discord said, and wait until nothing is left to do."""
        assert self.app is not None and self.adapter is not None
        for poller in self.app.pollers.values():
            await poller.poll_once(force_recheck=recheck)
        await self.adapter.wait_incoming()
        assert await self.app.outbox.wait_idle(within), "outbox did not drain"

    async def relay(self) -> None:
        """Let what members did in Discord reach the site."""
        assert self.app is not None and self.adapter is not None
        await asyncio.sleep(0.05)  # the gateway event is on its way to discord.py
        await self.adapter.wait_incoming()
        assert await self.app.outbox.wait_idle(60), "outbox did not drain"

    async def stop(self) -> None:
        if self.app is not None:
            await self.app.stop()
        if self.store is not None:
            await self.store.close()
        self.app = self.store = None

    async def restart(self) -> App:
        await self.stop()
        return await self.start()
