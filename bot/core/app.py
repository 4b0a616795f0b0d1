"""The running bot: wires the store, site pollers, chat adapters, outbox and commands."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import defaultdict

from bot.chats.base import ChatAdapter, ChatError
from bot.commands.mirror import age, run_command
from bot.config import Config
from bot.core.chat2site import ChatToSite
from bot.core.deliver import ChatDelivery
from bot.core.mirrors import MirrorSpec, normalize_url
from bot.core.outbox import Outbox, backoff_delay
from bot.core.poller import SitePoller
from bot.models import ChatEvent, CommandCall
from bot.sources import build_source
from bot.sources.base import SiteSource
from bot.sources.guard import AddressPolicy
from bot.store import Store
from bot.web.metrics import Metrics
from bot.web.server import WebServer

log = logging.getLogger(__name__)

CHAT_RETRY_BASE = 2.0  # seconds before the first retry of a chat that could not start
CHAT_RETRY_CAP = 300.0
DONE_JOBS_KEPT = 30 * 86400  # seconds a delivered job stays in the outbox (for `mirror status` and debugging)
HOUSEKEEPING_EVERY = 6 * 3600.0


class App:
    def __init__(
        self,
        config: Config,
        store: Store,
        chats: dict[str, ChatAdapter],
        sources: dict[str, SiteSource] | None = None,
        outbox_concurrency: int = 16,
    ) -> None:
        self.config = config
        self.store = store
        self.chats = chats
        self.sources: dict[str, SiteSource] = sources or {
            name: build_source(name, site, config.network.allow_private) for name, site in config.sites.items()
        }
        self.site_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.address_policy = AddressPolicy.build(
            config.network.allow_private, [site.url for site in config.sites.values()]
        )
        self.delivery = ChatDelivery(store, chats, self.sources)
        self.chat2site = ChatToSite(
            store, self.sources, {n: c.label for n, c in chats.items()}, self.site_locks, config.relay
        )
        self.outbox = Outbox(store, {**self.delivery.handlers(), **self.chat2site.handlers()}, outbox_concurrency)
        self.pollers = {
            name: SitePoller(name, self.sources[name], site, store, self.site_locks[name], self.outbox.wake)
            for name, site in config.sites.items()
        }
        self.metrics = Metrics(chats)
        self.outbox.observe = self.metrics.job_outcome
        self.web: WebServer | None = None  # /healthz, /metrics, push webhook: when `http:` is configured
        self._tasks: list[asyncio.Task[None]] = []
        self.started_at = time.time()
        self.chat_down_since: dict[str, float] = {}  # chats that could not start yet, since when

    # -- life cycle --------------------------------------------------------------------

    async def sync_config_mirrors(self) -> None:
        """Config mirrors are (re)written at start; ones removed from the file go away."""
        configured = {m.name for m in self.config.mirrors}
        for stored in await self.store.mirrors():
            if stored.origin == "config" and stored.name not in configured:
                await self.store.delete_mirror(stored.name)
                log.info("mirror %s was removed from the config", stored.name)
        await self.store.save_mirrors([MirrorSpec.from_config(mirror) for mirror in self.config.mirrors])

    async def start(self, poll: bool = True) -> None:
        await self.sync_config_mirrors()
        if self.config.http is not None:  # first: /healthz answers (503) while chats connect
            self.web = WebServer(self, self.config.http)
            await self.web.start()
        for name, chat in self.chats.items():
            await self._start_chat(name, chat)
        self._tasks.append(asyncio.create_task(self.outbox.run(), name="outbox"))
        self._tasks.append(asyncio.create_task(self._housekeeping(), name="housekeeping"))
        for name, poller in self.pollers.items():  # pushed comments are fetched even without polling
            self._tasks.append(asyncio.create_task(poller.run_pushes(), name=f"push-{name}"))
        if poll:
            for name, poller in self.pollers.items():
                self._tasks.append(asyncio.create_task(poller.run(), name=f"poll-{name}"))
        log.info(
            "started: %d site(s), %d chat(s), %d mirror(s)",
            len(self.sources),
            len(self.chats),
            len(await self.store.mirrors()),
        )

    async def _start_chat(self, name: str, chat: ChatAdapter) -> None:
        """Start a chat; one that cannot be reached yet keeps trying in the background (its
        deliveries wait in the outbox meanwhile). A refusal (a bad token) raises ChatError."""
        try:
            await chat.start(self)
        except ChatError as exc:
            if not exc.transient:
                raise
            self.delivery.connecting[name] = str(exc)
            self.chat_down_since[name] = time.time()
            log.warning("%s: %s; retrying in the background", name, exc)
            self._tasks.append(asyncio.create_task(self._keep_starting(name, chat), name=f"start-{name}"))

    async def _keep_starting(self, name: str, chat: ChatAdapter) -> None:
        for attempt in itertools.count(1):
            await asyncio.sleep(backoff_delay(attempt, base=CHAT_RETRY_BASE, cap=CHAT_RETRY_CAP))
            try:
                await chat.start(self)
            except ChatError as exc:
                if not exc.transient:
                    self.delivery.connecting[name] = str(exc)
                    log.error("%s: %s; an admin must fix this (the other chats go on)", name, exc)
                    return
                self.delivery.connecting[name] = str(exc)
                log.warning("%s: still cannot start (attempt %d): %s", name, attempt, exc)
            else:
                del self.delivery.connecting[name]
                self.chat_down_since.pop(name, None)
                log.info("%s: connected", name)
                self.outbox.wake()
                return

    async def _housekeeping(self) -> None:
        """Keeps the outbox from growing without end: delivered jobs are forgotten after a while."""
        while True:
            pruned = await self.store.prune_done_jobs(DONE_JOBS_KEPT)
            if pruned:
                log.info("forgot %d delivered job(s) older than %d days", pruned, DONE_JOBS_KEPT // 86400)
            await asyncio.sleep(HOUSEKEEPING_EVERY)

    async def run_forever(self) -> None:
        await self.start()
        await asyncio.gather(*self._tasks)

    async def stop(self) -> None:
        if self.web is not None:
            await self.web.stop()
            self.web = None
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.outbox.stop()
        for chat in self.chats.values():
            await chat.stop()
        for source in self.sources.values():
            await source.close()

    # -- events from chats -------------------------------------------------------------

    async def on_chat_event(self, event: ChatEvent) -> None:
        job = await self.chat2site.plan(event)
        if job is not None and await self.store.enqueue([job]):
            self.outbox.wake()

    async def on_command(self, call: CommandCall) -> None:
        if call.name == "summarize":
            self.metrics.summary(call.chat)
        answer = await run_command(self, call)
        if call.respond is not None:
            await call.respond(answer)

    # -- what commands need (CommandHost) ----------------------------------------------

    def site_for_url(self, url: str) -> str | None:
        wanted = normalize_url(url)
        best: tuple[int, str] | None = None
        for name, site in self.config.sites.items():
            base = normalize_url(site.url)
            if wanted == base or wanted.startswith(base + "/") or wanted.startswith(base + "?"):
                best = max(best or (0, name), (len(base), name))
        return best[1] if best else None

    async def check_url(self, url: str) -> None:
        await self.address_policy.check_url(url)

    def site_url(self, site: str) -> str:
        return self.config.sites[site].url

    def chat_names(self) -> list[str]:
        return list(self.chats)

    def mirrors_changed(self, site: str) -> None:
        if site in self.pollers:
            self.pollers[site].poll_soon()

    async def status_lines(self, mirror: MirrorSpec | None) -> list[str]:
        lines = [f"Thread Mirror, up {age(self.started_at).removesuffix(' ago')}"]
        sites = [mirror.site] if mirror else list(self.config.sites)
        for site in sites:
            cursor = await self.store.get_cursor(site)
            if cursor is None:
                lines.append(f"- site {site}: not polled yet")
            elif cursor.failing_since:
                lines.append(f"- site {site}: FAILING since {age(cursor.failing_since)}: {cursor.last_error}")
            else:
                lines.append(f"- site {site}: ok, last poll {age(cursor.last_ok_at)}")
        for name, chat in self.chats.items():
            if name in self.delivery.connecting:
                since = age(self.chat_down_since.get(name, self.started_at))
                lines.append(f"- chat {name}: NOT CONNECTED since {since}: {self.delivery.connecting[name]}")
                continue
            problem = await chat.health()
            lines.append(f"- chat {name}: {problem or 'ok'}")
        stats = await self.store.outbox_stats()
        oldest = f", oldest waiting since {age(stats['oldest_pending'])}" if stats["oldest_pending"] else ""
        lines.append(f"- deliveries: {stats['pending']} waiting{oldest}, {stats['failed']} failed for good")
        for kind, lane, attempts, error, created in await self.store.failing_jobs():
            lines.append(f"  ! {kind} ({lane}), waiting since {age(created)}, {attempts} attempt(s): {error}")
        for m in [mirror] if mirror else await self.store.mirrors():
            lines.append(f"- mirror {m.describe()}")
        return lines
