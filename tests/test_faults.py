"""Faults: the bot between a flaky site and flaky chats, WordPress and Synapse restarted mid-run,
a site that goes away; backoff that never turns into a tight loop."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.chats.matrix import MatrixChat
from bot.config import MatrixChat as MatrixSettings
from bot.config import WordPressSite
from bot.core.app import App
from bot.core.outbox import BACKOFF_CAP, Outbox, backoff_delay
from bot.core.poller import MAX_BACKOFF, SitePoller, poll_backoff
from bot.models import ChatEvent, ChatMessage, CommandCall, Page, ThreadHeader
from bot.sample_site import SampleSite
from bot.sample_site.server import BOT_APP_PASSWORD, BOT_USERNAME
from bot.sources.base import SourceError
from bot.sources.wordpress import WordPressSource
from bot.store import NewJob, Store
from tests.fake_discord import FakeDiscord
from tests.faultproxy import FAULT_KINDS, FaultProxy
from tests.harness import Bot, site_config
from tests.matrix_bot import eventually
from tests.realwp import RealWordPress
from tests.recording_chat import RecordingChat
from tests.soak import Soak, SoakParams
from tests.synapse import MatrixUser, SynapseServer

DAY = 24 * 3600.0


@pytest.mark.parametrize("interval", [0.5, 60.0, 300.0])
def test_a_site_gone_for_a_day_is_polled_with_capped_backoff(interval: float) -> None:
    delays = [poll_backoff(failures, interval) for failures in range(1, 400)]
    assert min(delays) >= interval  # never faster than the poll interval
    assert max(delays) <= MAX_BACKOFF * 1.25  # jitter around a 30 min cap
    assert 15 * 60 <= MAX_BACKOFF <= 60 * 60
    assert all(d >= MAX_BACKOFF * 0.75 for d in delays[20:])  # it stays at the cap
    elapsed, polls = 0.0, 0
    while elapsed < DAY:
        polls += 1
        elapsed += poll_backoff(polls, interval)
    assert polls <= 70  # ~48 polls at the cap, plus the way up


def test_outbox_retries_back_off_to_a_cap_and_honour_retry_after() -> None:
    delays = [backoff_delay(attempts) for attempts in range(1, 200)]
    assert max(delays) <= BACKOFF_CAP and all(d >= BACKOFF_CAP / 2 for d in delays[15:])
    assert len({round(d, 6) for d in delays[15:]}) > 1  # jittered: retries of many jobs spread out
    assert backoff_delay(1, retry_after=42.0) == 42.0


async def test_a_long_listing_gets_through_a_flaky_site(site: SampleSite) -> None:
    """A failed page is retried on its own: 400 comments (5 pages) through 30 % 5xx and truncated
    answers are listed in one go, where starting over would rarely succeed (0.7 ** 5 = 17 %)."""
    post = next(iter(site.posts))
    for n in range(400):
        site.add_comment(post, 0, f"Reader {n}", f"<p>Bulk comment {n}</p>")
    proxy = await FaultProxy(site.base_url, "wordpress", seed=3, rate=0.3, kinds=("5xx", "truncate")).start()
    source = WordPressSource("flaky", WordPressSite(url=proxy.url, request_timeout=5))
    try:
        await _until_started(source)
        for _ in range(3):
            listed = await source.list_comments(None)
            assert len(listed) == len([c for c in site.comments.values() if c.status == "approved"])
        assert sum(proxy.faults.values()) >= 3
    finally:
        await source.close()
        await proxy.stop()


async def _until_started(source: WordPressSource) -> None:
    for _ in range(20):  # discovery is a single request: the poller retries it
        with contextlib.suppress(SourceError):
            await source.start()
            return
    raise AssertionError("the source never started")


async def test_a_relay_in_flight_does_not_make_the_bots_own_comments_look_deleted(
    site: SampleSite, tmp_path: Path
) -> None:
    """Found by the soak: while a relay is unresolved a poll holds back the bot's own comments; a
    re-read of the edit window must not take them for deleted (it deleted their chat copies, and
    a later poll posted them again, in some chats only)."""
    here = RecordingChat(name="terminal")
    config = site_config(
        site.base_url,
        BOT_USERNAME,
        BOT_APP_PASSWORD,
        tmp_path / "bot.db",
        targets=[{"chat": "terminal", "channel": "a"}, {"chat": "terminal", "channel": "b"}],
    )
    bot = Bot(config, {"terminal": here})
    app = await bot.start()
    try:
        await _relay_held_back(bot, app, here)
    finally:
        await bot.stop()


async def _relay_held_back(bot: Bot, app: App, here: RecordingChat) -> None:
    await bot.settle()
    answered = next(s for s in here.visible() if here.thread_channels[s.thread_ref] == "a")
    said = ChatMessage("terminal", "a", answered.thread_ref, "human-1", "Alice", "u1", "Agreed.", answered.ref)
    await here.human_says(said)
    await bot.settle()
    await bot.settle(recheck=True)
    [relayed] = [s for s in here.visible() if here.thread_channels[s.thread_ref] == "b" and "Agreed" in s.text]
    assert bot.store is not None
    await bot.store.enqueue([NewJob("relay:terminal:human-2", "relay:terminal:x", "relay", {"site": "site"})])
    [job] = [j for j in await bot.store.next_jobs(time.time(), set(), 100) if j.key == "relay:terminal:human-2"]
    await bot.store.start_attempt(job.id)  # in flight: it may have reached the site unrecorded
    await bot.store.retry_job(job.id, 3600, "held for the test", still_inflight=True)
    plan = await app.pollers["site"].poll_once(force_recheck=True)
    assert plan.removed == 0 and not [j for j in plan.jobs if j.kind == "delete_comment"]
    assert not here.messages[relayed.ref].deleted


@pytest.mark.parametrize("loop_of", ["outbox", "poller"])
async def test_a_cancel_that_meets_a_wake_up_still_stops_the_loop(loop_of: str, tmp_path: Path) -> None:
    """Found by the soak (a clean stop that hung): on Python 3.11 `asyncio.wait_for` returns the
    result, swallowing the cancellation, when what it waits for completes in the same tick; a
    job finishing (or a poll asked for) just as the app stops is exactly that."""
    store = await Store.open(str(tmp_path / "bot.db"))
    outbox = Outbox(store, {})
    poller = SitePoller("site", _NeverPolled(), WordPressSite(url="https://example.org/"), store, asyncio.Lock())
    task = asyncio.create_task(outbox.run() if loop_of == "outbox" else poller.run())
    await asyncio.sleep(0.2)  # waiting to be woken
    outbox.wake() if loop_of == "outbox" else poller.poll_soon()
    task.cancel()
    try:
        await asyncio.wait_for(asyncio.shield(task), 3)
    except asyncio.CancelledError:
        pass
    finally:
        assert task.done(), "the cancelled loop kept running"
        await store.close()


class _NeverPolled:
    """A source for a site without active mirrors: the poller never asks it anything."""

    name = "site"
    can_post = False


class _NoEvents:
    async def on_chat_event(self, event: ChatEvent) -> None:
        pass

    async def on_command(self, call: CommandCall) -> None:
        pass


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.mark.wordpress
async def test_matrix_starts_while_its_homeserver_fails(synapse: SynapseServer, tmp_path: Path) -> None:
    """A 5xx (or a 429) to whoami at start says nothing about the token: keep trying, say so."""
    bot = synapse.register(synapse.unique("bootbot"))
    proxy = await FaultProxy(synapse.base_url, "matrix").start()
    proxy.outage = True
    store = await Store.open(str(tmp_path / "bot.db"))
    chat = MatrixChat(
        MatrixSettings(homeserver=proxy.url, user_id=bot.user_id, access_token=bot.access_token, sync_timeout=1),
        store,
    )
    try:
        await chat.start(_NoEvents())  # does not raise: the sync loop keeps connecting
        assert not chat.connected
        assert "503" in (await chat.health() or "")
        proxy.outage = False
        await eventually(lambda: _connected(chat), within=30, what="the Matrix chat to connect")
        assert await chat.health() is None
    finally:
        await chat.stop()
        await store.close()
        await proxy.stop()


@pytest.mark.wordpress
async def test_a_join_that_failed_at_start_is_not_reported_once_the_room_works(
    synapse: SynapseServer, tmp_path: Path
) -> None:
    bot = synapse.register(synapse.unique("joinbot"))
    owner = MatrixUser(synapse, synapse.register(synapse.unique("owner")))
    room = await owner.create_room("Joined already", invite=[bot.user_id])
    synapse.request("POST", f"/_matrix/client/v3/join/{room}", {}, token=bot.access_token)
    proxy = await FaultProxy(
        synapse.base_url, "matrix", rate=1.0, kinds=("5xx",), exempt=lambda _m, target: "/join/" not in target
    ).start()
    store = await Store.open(str(tmp_path / "bot.db"))
    settings = MatrixSettings(
        homeserver=proxy.url, user_id=bot.user_id, access_token=bot.access_token, rooms=[room], sync_timeout=1
    )
    chat = MatrixChat(settings, store)
    try:
        await chat.start(_NoEvents())
        assert "cannot join" in (await chat.health() or "")
        page = Page(site="site", id=1, url="https://example.org/ferry", title="Ferry")
        await chat.open_thread(room, ThreadHeader("site", page), "open:test")  # the bot is in the room
        assert await chat.health() is None
    finally:
        await chat.stop()
        await store.close()
        await proxy.stop()
        await owner.close()


async def _connected(chat: MatrixChat) -> bool:
    return chat.connected and chat.sync_token is not None


@pytest.mark.wordpress
async def test_flaky_site_and_chats_and_restarts_lose_and_double_nothing(
    wordpress: RealWordPress, synapse: SynapseServer, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    params = SoakParams(
        comments=100,
        posts=6,
        replies=16,
        kills=0,
        phases=4,
        seed=5,
        site_faults=0.3,
        chat_faults=0.2,
        restart_servers=True,
        check_status=True,
    )
    report = await Soak(wordpress, synapse, fake_discord, tmp_path, params).run()
    assert report.ok, report.table() + "\n" + "\n".join(report.problems + report.failed_jobs)
    assert report.starts == 1 and not report.unexpected_exits  # the process never exited
    kinds = {name: set(counter) for name, counter in report.faults.items()}
    assert kinds["site"] >= set(FAULT_KINDS)
    assert kinds["matrix"] >= {"429", "5xx"} and kinds["discord"] == {"429", "5xx"}
    # The outage answers 503 to whatever arrives; a site poller already backing off may send nothing.
    assert "outage" in kinds["site"] | kinds["matrix"]
    during, after = report.status_answers
    assert re.search(r"- site site: FAILING since \d+s ago: .*503", during), during
    assert re.search(r"- chat matrix: .*503.*\(since \d+s ago\)", during), during
    assert "- site site: ok" in after and "- deliveries: 0 waiting" in after, after
    assert report.replies == 16
