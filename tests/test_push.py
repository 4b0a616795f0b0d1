"""Push mode, /healthz and /metrics.

- push.py's verification, on its own;
- the web server of a running bot (a recording chat, no site needed): refusals, health, metrics;
- the companion plugin installed in the real WordPress: its notifications verify here, cannot be
  replayed or altered, and with the real Synapse a comment's creation, edit, trashing and deletion
  reach the Matrix thread within seconds while the poller sleeps for ten minutes.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from bot.chats import build_chats
from bot.cli import web_summary
from bot.config import Config, HttpSettings
from bot.core.app import App
from bot.store import Store
from bot.web.push import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    PushRefused,
    ReplayGuard,
    accept,
    parse,
    sign,
    verify,
)
from tests.fake_discord import FakeDiscord
from tests.fake_discord.support import DiscordBot, bot_config, discord_config
from tests.matrix_bot import eventually, matrix_config
from tests.realwp import RealWordPress
from tests.recording_chat import RecordingChat
from tests.synapse import MatrixUser, SynapseServer

SECRET = "correct horse battery staple"
NOW = 1_800_000_000.0
BODY = b'{"comment_id": 1}'
PLUGIN = Path(__file__).resolve().parent.parent / "integrations" / "wordpress" / "thread-mirror-push.php"


# -- push.py ---------------------------------------------------------------------------------


def test_a_signed_notification_is_accepted_once() -> None:
    body = b'{"event": "new", "comment_id": 42, "post_id": 7, "nonce": "ab"}'
    now = NOW
    guard = ReplayGuard(300, clock=lambda: now)
    signature = sign(SECRET, str(int(now)), body)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    notice = accept(SECRET, str(int(now)), signature, body, guard)
    assert (notice.event, notice.comment_id, notice.post_id) == ("new", 42, 7)
    with pytest.raises(PushRefused) as replay:
        accept(SECRET, str(int(now)), signature, body, guard)
    assert (replay.value.status, replay.value.result) == (409, "replay")


@pytest.mark.parametrize(
    ("what", "timestamp", "signature", "result"),
    [
        ("unsigned", "1800000000", None, "bad_signature"),
        ("no timestamp", None, sign(SECRET, "1800000000", BODY), "bad_signature"),
        ("forged", "1800000000", "sha256=" + "0" * 64, "bad_signature"),
        ("another secret", "1800000000", sign("not the secret", "1800000000", BODY), "bad_signature"),
        ("another body", "1800000000", sign(SECRET, "1800000000", b'{"comment_id": 2}'), "bad_signature"),
        ("another time", "1800000001", sign(SECRET, "1800000000", BODY), "bad_signature"),
        ("400 s old", "1799999600", sign(SECRET, "1799999600", BODY), "stale"),
        ("400 s ahead", "1800000400", sign(SECRET, "1800000400", BODY), "stale"),
        ("not a time", "nan", sign(SECRET, "nan", BODY), "stale"),  # float("nan") compares false
        ("not a number", "soon", sign(SECRET, "soon", BODY), "bad_signature"),
    ],
)
def test_bad_notifications_are_refused(what: str, timestamp: str | None, signature: str | None, result: str) -> None:
    with pytest.raises(PushRefused) as refused:
        verify(SECRET, timestamp, signature, BODY, max_age=300, now=NOW)
    assert (refused.value.status, refused.value.result) == (401, result), what


def test_a_timestamp_inside_the_window_passes() -> None:
    for stamp in ("1799999701", "1800000299"):
        assert verify(SECRET, stamp, sign(SECRET, stamp, BODY), BODY, max_age=300, now=NOW) == float(stamp)


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"comment_id": 0}', b'{"comment_id": -3}', b'{"comment_id": true}', b"{}"]
)
def test_malformed_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(PushRefused) as refused:
        parse(body)
    assert refused.value.status == 400


def test_ids_as_strings_are_read_and_content_is_ignored() -> None:
    notice = parse(b'{"comment_id": "17", "content": "<p>forged</p>", "event": "edited"}')
    assert (notice.comment_id, notice.post_id, notice.event) == (17, None, "edited")


def test_the_replay_memory_forgets_after_the_window_and_stays_bounded() -> None:
    now = [1000.0]
    guard = ReplayGuard(300, capacity=3, clock=lambda: now[0])
    assert guard.first_time("a", 1000) and not guard.first_time("a", 1000)
    now[0] = 1301  # a's window is over: a replay of it is refused by its timestamp anyway
    assert guard.first_time("a", 1000)
    for sig in "bcde":
        assert guard.first_time(sig, 1301)
    assert len(guard._seen) <= 3


# -- the web server of a running bot ------------------------------------------------------------


class OfflineChat(RecordingChat):
    connected = False  # what a Matrix or Discord adapter says while it cannot reach its server


@dataclass
class Running:
    app: App
    store: Store
    chat: RecordingChat
    session: aiohttp.ClientSession
    seen: list[float] = field(default_factory=list)

    @property
    def base(self) -> str:
        assert self.app.web is not None
        return f"http://127.0.0.1:{self.app.web.port}"

    async def get(self, path: str) -> tuple[int, str]:
        async with self.session.get(self.base + path) as resp:
            return resp.status, await resp.text()

    async def push(
        self, body: Any, site: str = "site", secret: str = SECRET, timestamp: float | None = None
    ) -> tuple[int, dict[str, Any]]:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        stamp = str(int(time.time() if timestamp is None else timestamp))
        headers = {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(secret, stamp, raw)}
        return await self.send(raw, headers, site)

    async def send(self, raw: bytes, headers: dict[str, str], site: str = "site") -> tuple[int, dict[str, Any]]:
        async with self.session.post(f"{self.base}/hooks/wordpress/{site}", data=raw, headers=headers) as resp:
            return resp.status, await resp.json(content_type=None)

    async def metrics(self) -> dict[str, list[Any]]:
        status, text = await self.get("/metrics")
        assert status == 200
        return {f.name: f.samples for f in text_string_to_metric_families(text)}


def web_config(site_url: str, store: Path, *, mirrors: bool = False, poll_interval: float = 600) -> Config:
    site: dict[str, Any] = {"url": site_url, "poll_interval": poll_interval, "push_secret": SECRET}
    mirror = {"name": "m", "site": "site", "relay": "off", "targets": [{"chat": "terminal", "channel": "main"}]}
    return Config.model_validate(
        {
            "store": {"path": str(store)},
            "sites": {"site": site, "quiet": {"url": site_url}},  # "quiet" has no push_secret
            "chats": {"terminal": {"enabled": True}},
            "mirrors": [mirror] if mirrors else [],
            "http": {"port": 0},
        }
    )


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    """A bot with its web server up; its sites are never reached (it has no mirrors)."""
    bot = await start_bot(web_config("http://127.0.0.1:9/", tmp_path / "bot.db"), RecordingChat(), poll=False)
    yield bot
    await stop_bot(bot)


async def start_bot(config: Config, chat: RecordingChat, poll: bool) -> Running:
    store = await Store.open(config.store.path)
    app = App(config, store, {"terminal": chat}, outbox_concurrency=8)
    app.outbox.backoff_base = 0.01
    await app.start(poll=poll)
    return Running(app, store, chat, aiohttp.ClientSession())


async def stop_bot(bot: Running) -> None:
    await bot.session.close()
    await bot.app.stop()
    await bot.store.close()


async def test_the_server_listens_on_loopback_by_default(running: Running) -> None:
    assert HttpSettings().host == "127.0.0.1"
    assert running.app.web is not None and running.app.web._runner is not None
    assert all(address[0] == "127.0.0.1" for address in running.app.web._runner.addresses)


async def test_the_webhook_refuses_what_it_cannot_trust(running: Running) -> None:
    now = time.time()
    notice = {"event": "new", "comment_id": 5, "post_id": 1, "nonce": "1"}
    assert (await running.push(notice, secret="guessed"))[0] == 401  # forged
    raw = json.dumps(notice).encode()
    assert (await running.send(raw, {TIMESTAMP_HEADER: str(int(now))}))[0] == 401  # unsigned
    status, answer = await running.push(notice, timestamp=now - 3600)  # stale
    assert status == 401 and "stale" in answer["error"]
    assert (await running.push(notice, timestamp=now + 3600))[0] == 401  # from the future
    assert (await running.push(notice, site="nosuchsite"))[0] == 404
    assert (await running.push(notice, site="quiet"))[0] == 404  # a site without push_secret
    assert (await running.push({**notice, "padding": "x" * 10_000}))[0] == 413
    assert (await running.push({"event": "new"}))[0] == 400  # signed, but names no comment

    # A good one is accepted (202) once; the very same bytes again are a replay.
    stamp = str(int(now))
    headers = {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(SECRET, stamp, raw)}
    assert await running.send(raw, headers) == (202, {"queued": 5})
    status, answer = await running.send(raw, headers)
    assert status == 409 and "replay" in answer["error"]
    async with running.session.get(f"{running.base}/hooks/wordpress/site") as resp:
        assert resp.status == 405

    pushes = {
        (s.labels["site"], s.labels["result"]): s.value
        for s in (await running.metrics())["thread_mirror_push_notifications"]
        if s.name.endswith("_total")
    }
    assert pushes == {
        ("site", "bad_signature"): 2,
        ("site", "stale"): 2,
        ("site", "too_large"): 1,
        ("site", "malformed"): 1,
        ("site", "accepted"): 1,
        ("site", "replay"): 1,
    }


async def test_healthz_names_a_disconnected_chat(tmp_path: Path) -> None:
    config = web_config("http://127.0.0.1:9/", tmp_path / "bot.db")
    bot = await start_bot(config, OfflineChat(), poll=False)
    try:
        status, text = await bot.get("/healthz")
        assert status == 503
        assert json.loads(text) == {"ok": False, "store": "ok", "chats": {"terminal": "disconnected"}}
        bot.chat.connected = True  # it reconnects
        status, text = await bot.get("/healthz")
        assert status == 200 and json.loads(text) == {"ok": True, "store": "ok", "chats": {"terminal": "connected"}}
    finally:
        await stop_bot(bot)


async def test_healthz_follows_the_discord_gateway(tmp_path: Path) -> None:
    fake = FakeDiscord()
    guild = fake.add_guild("Harbour Town")
    await fake.start()
    try:
        with fake.patch_discord_py():
            chat = discord_config(fake, [guild.id], tmp_path)
            config = bot_config("http://127.0.0.1:9/", None, None, tmp_path / "bot.db", chat, [])
            bot = DiscordBot(config.model_copy(update={"http": HttpSettings(port=0)}))
            app = await bot.start()
            assert app.web is not None and bot.adapter is not None
            url = f"http://127.0.0.1:{app.web.port}/healthz"
            async with aiohttp.ClientSession() as http, http.get(url) as resp:
                assert resp.status == 200
                assert (await resp.json())["chats"] == {"discord": "connected"}
            assert bot.adapter.connected
            await bot.adapter.stop()
            assert not bot.adapter.connected
            await bot.stop()
    finally:
        await fake.stop()


async def test_healthz_fails_while_the_store_takes_no_write(running: Running, tmp_path: Path) -> None:
    assert running.app.web is not None
    running.app.web.store_check_timeout = 0.5
    assert (await running.get("/healthz"))[0] == 200
    other = sqlite3.connect(tmp_path / "bot.db", timeout=1)  # another process holds the write lock
    other.execute("BEGIN IMMEDIATE")
    try:
        status, text = await running.get("/healthz")
        assert status == 503
        assert json.loads(text)["store"].startswith("no write within 0.5s")
    finally:
        other.rollback()
        other.close()
    await eventually(lambda: _status(running, "/healthz", 200), within=10, what="healthy again")


async def _status(bot: Running, path: str, wanted: int) -> bool:
    return (await bot.get(path))[0] == wanted


async def test_metrics_are_prometheus_text_with_the_named_families(running: Running, tmp_path: Path) -> None:
    families = await running.metrics()
    for name in (
        "thread_mirror_deliveries",
        "thread_mirror_delivery_failures",
        "thread_mirror_delivery_retries",
        "thread_mirror_delivery_seconds",
        "thread_mirror_relays",
        "thread_mirror_summaries",
        "thread_mirror_push_notifications",
        "thread_mirror_poll_lag_seconds",
        "thread_mirror_outbox_depth",
        "thread_mirror_outbox_oldest_age_seconds",
        "thread_mirror_outbox_failed",
        "thread_mirror_rate_limit_waits",
    ):
        assert name in families, name
    assert [s.value for s in families["thread_mirror_outbox_depth"]] == [0]
    # Two bots in one process keep their own registries.
    other = await start_bot(web_config("http://127.0.0.1:9/", tmp_path / "other.db"), RecordingChat(), poll=False)
    try:
        await running.push({"comment_id": 9, "nonce": "x"})
        accepted = [s for s in (await other.metrics())["thread_mirror_push_notifications"] if s.name.endswith("_total")]
        assert accepted == []
    finally:
        await stop_bot(other)


def test_check_says_where_the_web_server_listens_and_which_sites_push(tmp_path: Path) -> None:
    config = web_config("http://127.0.0.1:9/", tmp_path / "bot.db")
    assert web_summary(config) == "Web server: http://127.0.0.1:0 — /healthz, /metrics, /hooks/wordpress/site"
    off = config.model_copy(update={"http": None})
    assert web_summary(off) == (
        "Web server: off (no http: section) (push_secret of site is unused: add an http: section)"
    )


# -- the companion plugin in the real WordPress -----------------------------------------------------


@pytest.fixture
def push_plugin(wordpress: RealWordPress) -> Iterator[RealWordPress]:
    """The plugin as a must-use plugin of the test site; tests point it at a URL with `aim`."""
    wordpress.install_mu_plugin(PLUGIN)
    wordpress.set_option("thread_mirror_push_secret", SECRET)
    yield wordpress
    wordpress.remove_mu_plugin(PLUGIN.name)
    wordpress.set_option("thread_mirror_push_url", "")
    wordpress.set_option("thread_mirror_push_secret", "")


def aim(wp: RealWordPress, url: str) -> None:
    wp.set_option("thread_mirror_push_url", url)


@dataclass
class Captured:
    headers: dict[str, str]
    body: bytes


@pytest.fixture
async def catcher() -> AsyncIterator[tuple[str, list[Captured]]]:
    """A web server that only records what it is sent (to replay a real notification)."""
    caught: list[Captured] = []

    async def record(request: web.Request) -> web.Response:
        caught.append(Captured(dict(request.headers), await request.read()))
        return web.Response(status=202)

    server = web.Application()
    server.router.add_post("/{tail:.*}", record)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/hooks/wordpress/site", caught
    await runner.cleanup()


@pytest.mark.wordpress
async def test_the_plugins_notifications_verify_and_cannot_be_replayed_or_altered(
    push_plugin: RealWordPress, catcher: tuple[str, list[Captured]], tmp_path: Path
) -> None:
    wp = push_plugin
    url, caught = catcher
    post = await asyncio.to_thread(wp.create_post, "Push: the plugin signs", "<p>Signed.</p>")
    bot = await start_bot(web_config(wp.base_url, tmp_path / "bot.db", mirrors=True), RecordingChat(), poll=True)
    try:
        await eventually(lambda: _polled(bot), what="the first poll")
        aim(wp, url)
        started = time.monotonic()
        comment = await asyncio.to_thread(wp.add_comment, post["id"], "A comment the plugin reports.", "Pia")
        assert time.monotonic() - started < 1.0  # the commenter did not wait for the bot
        await eventually(lambda: _truthy(caught), within=5, what="the plugin's notification")
        [note] = caught  # one per comment and request, though several hooks fired
        data = json.loads(note.body)
        assert (data["event"], data["comment_id"], data["post_id"]) == ("new", comment["id"], post["id"])
        assert abs(int(note.headers[TIMESTAMP_HEADER]) - time.time()) < 10

        # The plugin's signature is what the bot expects: the real notification is accepted once.
        headers = {k: note.headers[k] for k in (TIMESTAMP_HEADER, SIGNATURE_HEADER, "Content-Type")}
        assert (await bot.send(note.body, headers))[0] == 202
        await eventually(lambda: _shown(bot.chat, comment["id"]), within=5, what="the pushed comment")
        assert (await bot.send(note.body, headers))[0] == 409  # replayed
        altered = note.body.replace(str(comment["id"]).encode(), str(comment["id"] + 1).encode())
        assert (await bot.send(altered, headers))[0] == 401
    finally:
        await stop_bot(bot)


@pytest.mark.wordpress
def test_the_settings_page_never_shows_the_secret_and_an_empty_field_keeps_it(push_plugin: RealWordPress) -> None:
    page = push_plugin.php_eval(
        "require_once ABSPATH . 'wp-admin/includes/template.php';"
        "require_once ABSPATH . 'wp-admin/includes/plugin.php';"
        "wp_set_current_user(1); Thread_Mirror_Push::register_settings();"
        "Thread_Mirror_Push::settings_page();"
        "echo '|kept=' . Thread_Mirror_Push::sanitize_secret('');"
        "echo '|new=' . Thread_Mirror_Push::sanitize_secret(' s2 ');"
    )
    form, kept, new = page.split("|")
    assert 'name="thread_mirror_push_url"' in form and 'name="thread_mirror_push_secret"' in form
    assert SECRET not in form and "(set; leave empty to keep it)" in form
    assert (kept, new) == (f"kept={SECRET}", "new=s2")


async def _polled(bot: Running) -> bool:
    return bot.app.pollers["site"].cycles >= 1 and await bot.app.outbox.wait_idle(5)


async def _counted(bot: Running, sample: str) -> bool:
    return any(s.name == sample and s.value > 0 for f in (await bot.metrics()).values() for s in f)


async def _truthy(items: list[Captured]) -> bool:
    return bool(items)


async def _shown(chat: RecordingChat, comment_id: int) -> bool:
    return any(m.comment_id == comment_id for m in chat.messages.values())


# -- end to end: WordPress with the plugin → the bot → Synapse ----------------------------------------


@pytest.mark.wordpress
async def test_site_changes_reach_matrix_by_push_while_the_poller_sleeps(
    push_plugin: RealWordPress, synapse: SynapseServer, tmp_path: Path
) -> None:
    wp = push_plugin
    bot_account = synapse.register(synapse.unique("pushbot"))
    human = MatrixUser(synapse, synapse.register(synapse.unique("reader")))
    room = await human.create_room("Push news", invite=[bot_account.user_id])
    post = await asyncio.to_thread(wp.create_post, "Push: the harbour webcam", "<p>Live pictures.</p>")
    ten_days_ago = (datetime.now(UTC) - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%S")
    old = await asyncio.to_thread(
        wp.add_comment, post["id"], "An old comment, out of the edit window.", "Olga", date_gmt=ten_days_ago
    )
    held = await asyncio.to_thread(wp.add_comment, post["id"], "Waiting for moderation.", "Hal", status="hold")

    config = matrix_config(wp, synapse, bot_account, [room], tmp_path / "bot.db", pages=[post["id"]])
    site = config.sites["site"].model_copy(update={"push_secret": SecretStr(SECRET), "poll_interval": 600})
    config = config.model_copy(update={"sites": {"site": site}, "http": HttpSettings(port=0)})
    store = await Store.open(config.store.path)
    app = App(config, store, build_chats(config, store, interactive=False), outbox_concurrency=8)
    app.outbox.backoff_base = 0.01
    await app.start(poll=True)  # the first poll runs now, the next in ten minutes
    bot = Running(app, store, RecordingChat(), aiohttp.ClientSession())
    poller = app.pollers["site"]
    try:
        await eventually(lambda: _polled(bot), within=30, what="the first poll")
        aim(wp, f"{bot.base}/hooks/wordpress/site")
        assert (await bot.get("/healthz")) == (200, '{"ok": true, "store": "ok", "chats": {"matrix": "connected"}}')

        async def event_of(comment_id: int) -> str | None:
            parts = await store.message_parts("site", comment_id, "matrix", room)
            return parts[0].message_ref if parts else None

        old_event = await event_of(old["id"])
        assert old_event is not None  # mirrored by the first poll (the backfill)

        # A new comment: in the Matrix thread within a few seconds; no poll ran meanwhile.
        new = await asyncio.to_thread(wp.add_comment, post["id"], "Fresh from the harbour.", "Nina")
        new_event = await eventually(lambda: event_of(new["id"]), within=5, what="the pushed comment in Matrix")
        seen = await human.event(room, new_event)
        assert "Fresh from the harbour." in seen["content"]["body"]

        # Edits, also of a comment far outside the edit window, and trashing and deletion.
        await asyncio.to_thread(wp.edit_comment, new["id"], "Fresh from the harbour, with gulls.")
        await asyncio.to_thread(wp.edit_comment, old["id"], "An old comment, corrected years later.")

        async def edited(event_id: str, text: str) -> bool:
            edits = await human.relations(room, event_id, "m.replace")
            return any(text in e["content"]["m.new_content"]["body"] for e in edits)

        await eventually(lambda: edited(new_event, "with gulls"), within=5, what="the edit")
        await eventually(lambda: edited(old_event, "corrected years later"), within=5, what="the old comment's edit")

        # A reply in Matrix is relayed; the plugin's push about it is not echoed back; summaries count.
        root = next(ref for key, ref in await store.threads() if key.post_id == post["id"])
        await human.say(room, "The gulls are loud today", thread=root, reply_to=new_event)

        async def relayed() -> bool:
            comments = await asyncio.to_thread(wp.list_comments, post["id"])
            return any("gulls are loud" in c["content"]["raw"] for c in comments)

        await eventually(relayed, within=10, what="the relay")
        await human.say(room, "!summarize", thread=root, latest=root)
        await eventually(lambda: _counted(bot, "thread_mirror_summaries_total"), within=10, what="a summary")
        await asyncio.sleep(1)  # time for the plugin's push about the relayed comment
        assert await app.outbox.wait_idle(10)
        thread = await human.thread(room, root)
        by_bot = [e for e in thread if e["sender"] == bot_account.user_id and e["content"]["msgtype"] != "m.notice"]
        assert len(by_bot) == 2  # Olga's and Nina's comments; the relayed reply came from Matrix

        await asyncio.to_thread(wp.trash_comment, new["id"])
        await asyncio.to_thread(wp.delete_comment, old["id"])

        async def redacted(event_id: str) -> bool:
            return "redacted_because" in (await human.event(room, event_id)).get("unsigned", {})

        await eventually(lambda: redacted(new_event), within=5, what="the trashed comment redacted")
        await eventually(lambda: redacted(old_event), within=5, what="the deleted comment redacted")

        # A signed notification's content is never used: the held comment stays unmirrored.
        status, _ = await bot.push({"event": "approved", "comment_id": held["id"], "content": "<p>forged</p>"})
        assert status == 202
        await asyncio.sleep(1)
        assert await app.outbox.wait_idle(10)
        assert await event_of(held["id"]) is None
        assert poller.cycles == 1  # only pushes explain all of the above

        families = await bot.metrics()
        totals = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f}
        assert totals[("thread_mirror_deliveries_total", (("kind", "post_comment"), ("platform", "matrix")))] == 2
        assert totals[("thread_mirror_deliveries_total", (("kind", "edit_comment"), ("platform", "matrix")))] == 2
        assert totals[("thread_mirror_deliveries_total", (("kind", "delete_comment"), ("platform", "matrix")))] == 2
        assert totals[("thread_mirror_push_notifications_total", (("result", "accepted"), ("site", "site")))] >= 5
        assert totals[("thread_mirror_delivery_seconds_count", (("platform", "matrix"),))] >= 7
        assert totals[("thread_mirror_outbox_depth", ())] == 0
        assert totals[("thread_mirror_outbox_oldest_age_seconds", ())] == 0
        assert 0 <= totals[("thread_mirror_poll_lag_seconds", (("site", "site"),))] < 120
        assert totals[("thread_mirror_rate_limit_waits_total", (("chat", "matrix"),))] == 0
        assert totals[("thread_mirror_relays_total", (("chat", "matrix"), ("site", "site")))] == 1
        assert totals[("thread_mirror_deliveries_total", (("kind", "relay"), ("platform", "site")))] == 1
        assert totals[("thread_mirror_summaries_total", (("chat", "matrix"),))] == 1
    finally:
        await bot.session.close()
        await app.stop()
        await store.close()
        await human.close()
