"""The soak: the bot as a process between the real WordPress, the real Synapse and the fake
Discord (each behind a fault proxy), SIGKILLed at random points and restarted, while comments
arrive on the site and people reply in both chats. At the end every comment must be in every
chat thread of its page exactly once and in order, and every chat reply on the site exactly once.

Kills come from a seeded RNG: after a random delay, or from a proxy's kill hook right after a
send (Matrix event, Discord webhook message or thread, WordPress comment) took effect and before
its answer reached the bot. See docs/RELIABILITY.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.fake_discord import FakeDiscord
from tests.fake_discord.model import Interaction
from tests.faultproxy import FaultProxy
from tests.realwp import RealWordPress
from tests.soak.botproc import HUNG, BotProcess
from tests.soak.world import DiscordSide, MatrixSide, Site, SiteComment
from tests.synapse import SynapseServer

log = logging.getLogger("soak")
SITE = "site"
# Where a kill hook may strike: (proxy, method, path pattern, highest count, patience factor).
# Relays are rarer than sends (and queue behind a backfill): their hook waits longer.
HOOKS = {
    "matrix send": ("matrix", "PUT", r"/rooms/[^/]+/send/", 15, 1),
    "discord webhook message": ("discord", "POST", r"^/api/v10/webhooks/\d+/[^/?]+(\?|$)", 15, 1),
    "discord bot message": ("discord", "POST", r"^/api/v10/channels/\d+/messages(\?|$)", 15, 1),
    "discord thread": ("discord", "POST", r"^/api/v10/channels/\d+/(messages/\d+/)?threads", 3, 1),
    "wordpress comment": ("site", "POST", r"(/wp/v2/comments|rest_route=%2Fwp%2Fv2%2Fcomments)(\?|&|$)", 2, 8),
}


@dataclass
class SoakParams:
    comments: int = 150
    posts: int = 12
    replies: int = 20
    kills: int = 5
    seed: int = 1
    live_share: float = 0.1  # of the comments, added while the bot runs (the rest is its backfill)
    site_faults: float = 0.05  # share of requests to WordPress that fail (all kinds)
    chat_faults: float = 0.05  # share of requests to Synapse and Discord answered 429 or 5xx
    phases: int = 0  # rounds of chatter (each ends with a kill while kills are left); 0: kills + 1
    max_kill_delay: float = 3.0
    hook_patience: float = 15.0  # seconds an armed kill hook may wait for its request; then a plain kill
    restart_servers: bool = False  # restart WordPress and Synapse mid-run
    check_status: bool = False  # site and homeserver down a while: `/mirror status` in Discord must say so
    # Members write in Discord while the bot is down too: it catches up on READY. Off, they write only
    # while it is up and connected, and no kill strikes before their message is queued.
    discord_replies_while_down: bool = True
    discord_channels: str = "webhook,bot"  # the bot posts through a webhook in one, as itself (nonces) in the other
    boot_faults: bool = True  # faults on Discord's login request too (the bot survives a failed start)
    # A reply to a message whose bookkeeping a kill interrupted is relayed under the page, not under
    # that comment, until chat2site resolves the parent when the relay runs: counted, not failed on.
    check_parents: bool = False
    converge_within: float = 300.0
    quiet_for: float = 5.0  # after everything arrived, how long nothing more may arrive


@dataclass
class Reply:
    where: str  # the view it was written in: "matrix", "discord:webhook", "discord:bot"
    author: str  # as the site shows it, e.g. "Mara (via Matrix)"
    text: str
    parent: int | None  # the comment it answers (0: the page), None when unknown


@dataclass
class Report:
    params: SoakParams
    comments: int = 0
    replies: int = 0
    kills: Counter[str] = field(default_factory=Counter)
    faults: dict[str, Counter[str]] = field(default_factory=dict)
    messages: Counter[str] = field(default_factory=Counter)  # mirrored messages per chat
    duplicates: int = 0
    lost: int = 0
    misordered: int = 0
    unexpected: int = 0  # messages that should not be there (an echo, another page's comment)
    misplaced: int = 0  # relayed replies under another parent than the comment they answered
    relay_delays: list[float] = field(default_factory=list)  # seconds from a reply queued to it on the site
    failed_jobs: list[str] = field(default_factory=list)
    unexpected_exits: list[str] = field(default_factory=list)
    status_answers: list[str] = field(default_factory=list)
    starts: int = 0  # of the bot process
    problems: list[str] = field(default_factory=list)
    wall_time: float = 0.0

    @property
    def ok(self) -> bool:
        flaws = (self.duplicates, self.lost, self.misordered, self.unexpected)
        flaws += (self.misplaced if self.params.check_parents else 0,)
        return not any(flaws) and not self.failed_jobs and not self.unexpected_exits

    def table(self) -> str:
        faults = {k: sum(c.values()) for k, c in self.faults.items()}
        kinds: Counter[str] = Counter()
        for counter in self.faults.values():
            kinds.update(counter)
        rows = [
            ("comments on the site (backfill + live + relayed)", self.comments),
            ("chat replies relayed", self.replies),
            ("SIGKILLs survived", f"{sum(self.kills.values())} ({_fmt(self.kills)})"),
            ("faults injected", f"{sum(faults.values())} ({_fmt(Counter(faults))})"),
            ("faults by kind", _fmt(kinds)),
            ("mirrored messages", _fmt(self.messages)),
            ("duplicates", self.duplicates),
            ("lost", self.lost),
            ("out of order", self.misordered),
            ("replies under the wrong comment", self.misplaced),
            ("relay delay, median / max", _spread(self.relay_delays)),
            ("unexpected exits", len(self.unexpected_exits)),
            ("wall time", f"{self.wall_time:.0f} s"),
        ]
        return "\n".join(["| figure | value |", "| --- | --- |", *(f"| {k} | {v} |" for k, v in rows)])


def _spread(values: list[float]) -> str:
    if not values:
        return "none"
    ordered = sorted(values)
    return f"{ordered[len(ordered) // 2]:.1f} s / {ordered[-1]:.1f} s"


def _fmt(counter: Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counter.items())) or "none"


class Soak:
    def __init__(
        self, wp: RealWordPress, synapse: SynapseServer, fake: FakeDiscord, workdir: Path, params: SoakParams
    ) -> None:
        self.wp, self.synapse, self.fake, self.params = wp, synapse, fake, params
        self.workdir = workdir
        self.rng = random.Random(params.seed)
        self.tag = f"{params.seed}-{secrets.token_hex(2)}"
        self.site = Site(wp, self.tag, random.Random(params.seed + 1))
        self.matrix = MatrixSide(synapse)
        self.discord = DiscordSide(fake, params.discord_channels.split(","))
        rates = (params.site_faults, params.chat_faults)
        self.proxies = {
            "site": FaultProxy(wp.base_url, "wordpress", seed=params.seed, rate=rates[0], hang_for=30),
            "matrix": FaultProxy(synapse.base_url, "matrix", seed=params.seed + 2, rate=rates[1], kinds=("429", "5xx")),
            "discord": FaultProxy(
                fake.api_base.removesuffix("/api/v10"),
                "discord",
                seed=params.seed + 3,
                rate=rates[1],
                kinds=("429", "5xx"),
                exempt=None if params.boot_faults else _discord_boot,
            ),
        }
        self.bot: BotProcess | None = None
        self.replies: list[Reply] = []
        self.report = Report(params)
        self._hook_bag: list[str] = []
        self._holds = 0
        self._no_holds = asyncio.Condition()
        self._servers_up = asyncio.Event()
        self._servers_up.set()
        self._running = asyncio.Event()
        self._started = asyncio.Condition()
        self._stopping = False
        self._identifies_at_start = 0

    # -- the run -------------------------------------------------------------------------

    async def run(self) -> Report:
        started = time.monotonic()
        await self._setup()
        log.info("set up in %.1fs", time.monotonic() - started)
        supervisor = asyncio.create_task(self._supervise(), name="soak-supervisor")
        try:
            phases = max(self.params.phases, self.params.kills + 1)
            for phase in range(phases):
                log.info("phase %d of %d", phase + 1, phases)
                chatter = asyncio.create_task(self._chatter(phase, phases))
                events = asyncio.create_task(self._server_events(phase, phases))
                if phase < self.params.kills:
                    await self._kill_once()
                await events
                await chatter
            for proxy in self.proxies.values():
                proxy.rate = 0.0  # things recover
            log.info("waiting for everything to arrive")
            await self._converge()
            if self.params.check_status:
                self.report.status_answers.append(await self._status())
        finally:
            self._stopping = True
            assert self.bot is not None
            code = await self.bot.stop()
            if code == HUNG:
                self.report.unexpected_exits.append("a clean stop (SIGTERM) hung: killed after 30 s")
            elif code not in (0, None):
                self.report.unexpected_exits.append(f"SIGTERM ended it with exit code {code}")
            supervisor.cancel()
            await asyncio.gather(supervisor, return_exceptions=True)
            for proxy in self.proxies.values():
                await proxy.stop()
            await self.matrix.close()
        self.report.faults = {name: proxy.faults for name, proxy in self.proxies.items()}
        self.report.unexpected_exits.extend(self.bot.unexpected_exits)
        self.report.starts = self.bot.starts
        self.report.wall_time = time.monotonic() - started
        return self.report

    async def _setup(self) -> None:
        for proxy in self.proxies.values():
            await proxy.start()
        await asyncio.gather(self.matrix.setup(), self._backfill())
        self.bot = BotProcess(self.workdir, self._config())

    async def _backfill(self) -> None:
        await self.site.make_posts(self.params.posts)
        await self.site.add_comments(self.params.comments - self._live_total(), backfill=True)

    def _live_total(self) -> int:
        return round(self.params.comments * self.params.live_share)

    def _config(self) -> dict[str, Any]:
        p = self.proxies
        wp = self.wp
        targets = [
            {"chat": "matrix", "channel": self.matrix.room},
            *({"chat": "discord", "channel": str(channel.id)} for channel in self.discord.channels.values()),
        ]
        return {
            "store": {"path": str(self.workdir / "bot.db")},
            "log_level": "info",
            "sites": {
                SITE: {
                    "url": p["site"].url,
                    "username": wp.bot_username,
                    "app_password": wp.bot_app_password,
                    "poll_interval": 1,
                    "recheck_interval": 5,
                    "request_timeout": 3,
                }
            },
            "chats": {
                "matrix": {
                    "homeserver": p["matrix"].url,
                    "user_id": self.matrix.bot.user_id,
                    "access_token": self.matrix.bot.access_token,
                    "rooms": [self.matrix.room],
                    "sync_timeout": 5,
                    "request_timeout": 15,
                },
                "discord": {
                    "token": self.fake.token,
                    "guilds": [self.discord.guild.id],
                    "api_base": p["discord"].url + "/api/v10",
                    "gateway_url": self.fake.gateway_url,
                    "connect_timeout": 30,
                },
            },
            "mirrors": [
                {"name": "soak", "site": SITE, "pages": list(self.site.posts), "relay": "approved", "targets": targets}
            ],
            "relay": {"per_user": 0},
        }

    # -- the process, its kills and restarts ------------------------------------------------

    async def _supervise(self) -> None:
        """Keeps the bot running: starts it again after every exit (once the servers are up)."""
        assert self.bot is not None
        while not self._stopping:
            await self._servers_up.wait()
            self._identifies_at_start = len(self.fake.identifies)
            await self.bot.start()
            self._running.set()
            async with self._started:
                self._started.notify_all()
            await self.bot.wait_exit()
            self._running.clear()
            await asyncio.sleep(self.rng.uniform(0.0, 0.5))

    async def _kill_once(self) -> None:
        assert self.bot is not None
        await self._running.wait()
        starts = self.bot.starts
        if self.rng.random() < 0.7:
            name = self._next_hook()
            proxy, method, pattern, most, patience = HOOKS[name]
            hook = self.proxies[proxy].kill_after(
                method, pattern, self.rng.randint(1, most), lambda: self._kill_now(name), name
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wait_restarted(starts), self.params.hook_patience * patience)
            if hook in self.proxies[proxy].hooks:
                self.proxies[proxy].hooks.remove(hook)
        if self.bot.starts == starts:
            await asyncio.sleep(self.rng.uniform(0.1, self.params.max_kill_delay))
            async with self._no_holds:
                await self._no_holds.wait_for(lambda: self._holds == 0)
                if self.bot.starts == starts:
                    self._kill_now("delay")
        await self._wait_restarted(starts)

    def _next_hook(self) -> str:
        """Hooks come from a shuffled bag (each is used in turn); threads are made in the first run."""
        assert self.bot is not None
        if self.bot.starts == 1:
            return "discord thread"
        if not self._hook_bag:
            self._hook_bag = [h for h in sorted(HOOKS) if h != "discord thread"]
            self.rng.shuffle(self._hook_bag)
        return self._hook_bag.pop()

    def _kill_now(self, reason: str) -> bool:
        assert self.bot is not None
        if self._holds or not self.bot.kill():
            return False
        self.report.kills[reason] += 1
        log.info("kill %d (%s)", sum(self.report.kills.values()), reason)
        return True

    async def _wait_restarted(self, starts: int) -> None:
        bot = self.bot
        assert bot is not None
        async with self._started:
            await self._started.wait_for(lambda: bot.starts != starts and self._running.is_set())

    @contextlib.asynccontextmanager
    async def _no_kills(self) -> AsyncIterator[None]:
        self._holds += 1
        try:
            yield
        finally:
            self._holds -= 1
            async with self._no_holds:
                self._no_holds.notify_all()

    async def _server_events(self, phase: int, phases: int) -> None:
        """A quarter into the run WordPress restarts, halfway the site is down for a while (and
        `!mirror status` must say so), three quarters in Synapse restarts."""
        restarts = {phases // 4: self.wp.restart, (3 * phases) // 4: self.synapse.restart}
        if self.params.restart_servers and phase in restarts:
            await asyncio.sleep(self.rng.uniform(0.5, 2.0))
            log.info("restarting %s", "WordPress" if restarts[phase] == self.wp.restart else "Synapse")
            self._servers_up.clear()
            try:
                await asyncio.to_thread(restarts[phase])
            finally:
                self._servers_up.set()
        if self.params.check_status and phase == phases // 2:
            log.info("the site goes away")
            self.report.status_answers.append(await self._outage())

    # -- what people do ----------------------------------------------------------------------

    async def _chatter(self, phase: int, phases: int) -> None:
        total = self.params.replies
        mine = range(phase * total // phases, (phase + 1) * total // phases)
        live = self._live_total()
        batch = (phase + 1) * live // phases - phase * live // phases
        if batch:
            await self.site.add_comments(batch, backfill=False)
        for index in mine:
            await asyncio.sleep(self.rng.uniform(0.0, 0.4))
            await self._servers_up.wait()
            if index % 2 == 0:
                await self._matrix_reply(index)
            else:
                await self._discord_reply(index)
        self.report.replies = len(self.replies)

    async def _matrix_reply(self, index: int) -> None:
        targets = await _until(
            lambda: self.matrix.thread_targets(self.site.posts), "a Matrix thread with comments", self._patience
        )
        post = self.rng.choice(sorted(targets))
        root, events = targets[post]
        person = index // 2 % len(self.matrix.people)
        text = f"Matrix reply {self.tag}-{index}: " + self.rng.choice(["agreed", "not quite", "thanks", "source?"])
        answered = self.rng.choice(events) if self.rng.random() < 0.6 else None
        content: dict[str, Any] = {
            "msgtype": "m.text",
            "body": text,
            "m.relates_to": {
                "rel_type": "m.thread",
                "event_id": root,
                "is_falling_back": answered is None,
                "m.in_reply_to": {"event_id": (answered or events[-1])[0]},
            },
        }
        parent = answered[1] if answered else 0
        self.replies.append(Reply("matrix", f"{self.matrix.names[person]} (via Matrix)", text, parent))
        client = self.matrix.people[person].client
        for attempt in range(10):  # the same transaction id: a retried send is one event
            with contextlib.suppress(OSError, TimeoutError, aiohttp.ClientError):
                resp = await client.room_send(self.matrix.room, "m.room.message", content, tx_id=f"soak-{text}")
                if getattr(resp, "event_id", None):
                    return
            await asyncio.sleep(0.5 * (attempt + 1))
        raise AssertionError(f"could not send {text!r} to Matrix")

    async def _discord_reply(self, index: int) -> None:
        async with contextlib.AsyncExitStack() as stack:
            if not self.params.discord_replies_while_down:
                await stack.enter_async_context(self._no_kills())
                await _until(self._discord_connected, "the bot connected to Discord", self._patience)
            mode = self.rng.choice(sorted(self.discord.channels))
            channel = self.discord.channels[mode]
            targets = await _until(
                lambda: _ready(self.discord.thread_targets(self.site.posts, channel)),
                "a Discord thread with comments",
                self._patience,
            )
            post = self.rng.choice(sorted(targets))
            thread, messages = targets[post]
            member = self.discord.people[index // 2 % len(self.discord.people)]
            text = f"Discord reply {self.tag}-{index}: " + self.rng.choice(["indeed", "no way", "cheers", "why?"])
            answered = self.rng.choice(messages) if self.rng.random() < 0.6 else None
            parent = self.discord.comment_of(answered) if answered else 0
            self.replies.append(Reply(f"discord:{mode}", f"{member.display_name} (via Discord)", text, parent))
            sent = await self.fake.user_says(member, thread, text, reply_to=answered)
            if not self.params.discord_replies_while_down:
                bot, key = self.bot, f"relay:discord:{sent.id}"
                assert bot is not None
                await _until(lambda: bot.has_job(key), f"{key} queued", self._patience)

    async def _discord_connected(self) -> bool:  # and ready for members' messages
        assert self.bot is not None
        return (
            self.bot.alive
            and len(self.fake.identifies) > self._identifies_at_start
            and any(c.session is not None for c in self.fake.connections)
        )

    @property
    def _patience(self) -> float:
        """How long the run waits for the bot to make progress (a flaky site slows it down a lot)."""
        return self.params.converge_within

    # -- admins: an outage and `mirror status` --------------------------------------------------

    async def _outage(self) -> str:
        """The site and the homeserver go away until `/mirror status` in Discord says so; returns
        that answer."""
        bot = self.bot
        assert bot is not None
        self.proxies["site"].outage = self.proxies["matrix"].outage = True
        try:
            for name, proxy in self.proxies.items():
                if proxy.outage:
                    met = functools.partial(_outages_met, proxy)
                    await _until(met, f"the bot to meet the {name}'s outage", within=120)
            await _until(functools.partial(_polls_meet_outage, bot), "a poll to meet the outage", within=120)
            deadline = time.monotonic() + 60
            while True:
                answer = await self._discord_status()
                if "- chat matrix: ok" not in answer or time.monotonic() > deadline:
                    return answer
                await asyncio.sleep(1.0)
        finally:
            self.proxies["site"].outage = self.proxies["matrix"].outage = False

    async def _discord_status(self) -> str:
        """`/mirror status` from the guild's admin, asked again until answered (Discord fails too)."""
        for _ in range(8):
            await _until(self._discord_connected, "the bot connected to Discord", self._patience)
            channel = next(iter(self.discord.channels.values()))
            asked = await self.fake.invoke(self.discord.admin, channel, "mirror", "status")
            with contextlib.suppress(AssertionError):
                await _until(functools.partial(_replies, asked), "the status answer", within=10)
                return "\n".join(asked.replies())
        raise AssertionError("`/mirror status` was never answered")

    async def _status(self) -> str:
        """`!mirror status` from the room's admin, asked again until answered (the chat side fails too)."""
        admin = self.matrix.admin
        for _ in range(8):
            await self._running.wait()
            asked = await admin.say(self.matrix.room, "!mirror status")
            with contextlib.suppress(AssertionError):
                return await _until(functools.partial(self._answer_to, asked), "the status answer", within=10)
        raise AssertionError("`!mirror status` was never answered")

    async def _answer_to(self, event_id: str) -> str | None:
        for event in await self.matrix.events():
            content = event.get("content") or {}
            relation = content.get("m.relates_to") or {}
            if (
                event.get("sender") == self.matrix.bot.user_id
                and (relation.get("m.in_reply_to") or {}).get("event_id") == event_id
            ):
                return str(content.get("body", ""))
        return None

    # -- the verdict ---------------------------------------------------------------------------

    async def _converge(self) -> None:
        assert self.bot is not None
        deadline = time.monotonic() + self.params.converge_within
        while True:
            report = await self._check()
            pending, _failed = await self.bot.open_jobs()
            if (report.lost == 0 and pending == 0) or time.monotonic() > deadline:
                break
            await asyncio.sleep(1.0)
        log.info("converged in %.1fs", self.params.converge_within - (deadline - time.monotonic()))
        await asyncio.sleep(self.params.quiet_for)  # what arrives late would be a duplicate
        final = await self._check()
        final.failed_jobs = await self.bot.failed_jobs()
        pending, _ = await self.bot.open_jobs()
        if pending:
            final.problems.append(f"{pending} deliveries still waiting")
        names = ("duplicates", "lost", "misordered", "unexpected", "misplaced", "messages", "comments", "problems")
        for name in names:
            setattr(self.report, name, getattr(final, name))
        self.report.failed_jobs = final.failed_jobs
        self.report.relay_delays = await self.bot.job_durations("relay")

    async def _check(self) -> Report:
        found = Report(self.params)
        comments = await self.site.comments()
        found.comments = len(comments)
        origin = self._check_site(comments, found)
        visible = [c for c in comments if c.status == "approved"]
        views = {"matrix": await self.matrix.view(self.site.posts)}
        for mode, channel in self.discord.channels.items():
            views[f"discord:{mode}"] = self.discord.view(self.site.posts, channel)
        for name, view in views.items():
            found.messages[name] = sum(len(ids) for ids in view.threads.values())
            if view.unparsed:
                found.problems.append(f"{name}: {view.unparsed} bot messages name no comment")
            for post in self.site.posts:
                # every comment of the page, but the relays written right there (never echoed back)
                expected = [c.id for c in visible if c.post == post and origin.get(c.id) != name]
                _compare(f"{name} page {post}", expected, view.threads.get(post, []), set(origin), found)
                roots = view.roots.get(post, 0)
                if roots > 1:
                    found.duplicates += roots - 1
                    found.problems.append(f"{name} page {post}: {roots} threads")
        return found

    def _check_site(self, comments: list[SiteComment], found: Report) -> dict[int, str]:
        """Each chat reply once on the site, under the comment it answered; returns comment id →
        the view the reply was written in."""
        origin: dict[int, str] = {}
        for reply in self.replies:
            there = [c for c in comments if c.author == reply.author and reply.text in c.raw]
            origin.update((c.id, reply.where) for c in there)
            copies = len(there)
            if there and reply.parent is not None and there[0].parent != reply.parent:
                found.misplaced += 1
                found.problems.append(f"site: {reply.text!r} is under {there[0].parent}, not {reply.parent}")
            if copies == 0:
                found.lost += 1
                found.problems.append(f"site: {reply.text!r} by {reply.author} is missing")
            elif copies > 1:
                found.duplicates += copies - 1
                found.problems.append(f"site: {reply.text!r} by {reply.author} is there {copies} times")
        return origin


def _compare(where: str, expected: list[int], actual: list[int], relayed: set[int], found: Report) -> None:
    """Each expected comment once; nothing else; site-born comments in site order (relayed ones
    may come later: they wait until the bot recorded where they came from)."""
    counts = Counter(actual)
    wanted = set(expected)
    dups = sum(n - 1 for n in counts.values() if n > 1)
    lost = [c for c in expected if c not in counts]
    extra = [c for c in counts if c not in wanted]
    seen_order = [c for c in dict.fromkeys(actual) if c in wanted and c not in relayed]
    site_order = [c for c in expected if c in counts and c not in relayed]
    found.duplicates += dups
    found.lost += len(lost)
    found.unexpected += len(extra)
    if dups or lost or extra:
        found.problems.append(f"{where}: {dups} duplicates, lost {lost[:5]}, unexpected {extra[:5]}")
    if seen_order != site_order:
        found.misordered += 1
        found.problems.append(f"{where}: out of order")


def _discord_boot(method: str, target: str) -> bool:
    return target.startswith(("/api/v10/users/@me", "/api/v10/gateway"))


async def _polls_meet_outage(bot: BotProcess) -> bool:
    return "503" in (await bot.site_error(SITE) or "")


async def _outages_met(proxy: FaultProxy) -> int:
    return proxy.faults["outage"]


async def _replies(interaction: Interaction) -> list[str]:
    return interaction.replies()


async def _ready(value: Any) -> Any:
    return value


async def _until(check: Callable[[], Awaitable[Any]], what: str, within: float = 120.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)
