"""Catching up after downtime: members' replies posted in mirrored Discord threads while the bot
was stopped or its gateway session was lost reach the site once, under the right parents.

The real bot (App + the Discord adapter on discord.py) against the fake Discord and the real WordPress.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.chats.discord import catchup
from bot.store import Store
from tests.fake_discord import Channel, FakeDiscord
from tests.fake_discord.model import PUBLIC_THREAD
from tests.fake_discord.server import RequestRecord
from tests.fake_discord.support import DiscordBot, ErrorWatch, bot_config, discord_config, watch_errors
from tests.realwp import RealWordPress
from tests.test_discord_e2e import World, discussion, message_of

HISTORY = "GET channels/{channel_id}/messages"
ARCHIVED = "GET channels/{channel_id}/threads/archived/public"


@pytest.fixture
async def world() -> AsyncIterator[World]:
    fake = FakeDiscord()
    made = World(fake)
    await fake.start()
    with fake.patch_discord_py():
        yield made
    await fake.stop()
    assert not fake.errors, fake.errors


@pytest.fixture
async def errors() -> AsyncIterator[ErrorWatch]:
    async with watch_errors() as watch:
        yield watch
    assert not watch.unexpected(), "\n".join(watch.unexpected())


def make_bot(wp: RealWordPress, world: World, tmp_path: Path, post_ids: list[int]) -> DiscordBot:
    store = tmp_path / "bot.db"
    config = bot_config(
        wp.base_url,
        wp.bot_username,
        wp.bot_app_password,
        store,
        discord_config(world.fake, [world.guild.id], store),
        [{"chat": "discord", "channel": str(world.text.id)}],
        backfill_days=None,
        pages=post_ids,
    )
    return DiscordBot(config)


async def start_caught_up(bot: DiscordBot) -> None:
    """Start the bot and wait until what it caught up on reached the site."""
    await bot.start()
    await caught_up(bot)


async def caught_up(bot: DiscordBot) -> None:
    assert bot.adapter is not None
    await asyncio.wait_for(bot.adapter.wait_caught_up(), 30)
    await bot.relay()


async def relayed(wp: RealWordPress, post_id: int) -> list[dict[str, Any]]:
    comments = await asyncio.to_thread(wp.list_comments, post_id)
    return [c for c in comments if c["author_name"].endswith("(via Discord)")]


def history_reads(fake: FakeDiscord, thread_id: int) -> list[RequestRecord]:
    return [r for r in fake.requests_to(HISTORY) if r.path == f"channels/{thread_id}/messages"]


def thread_of(fake: FakeDiscord, world: World, post: dict[str, Any]) -> Channel:
    [thread] = [t for t in fake.threads_in(world.text.id) if t.name == post["title"]["rendered"]]
    return thread


@pytest.mark.wordpress
async def test_replies_posted_while_stopped_land_once_and_quiet_threads_cost_nothing(
    wordpress: RealWordPress, world: World, errors: ErrorWatch, tmp_path: Path
) -> None:
    wp, fake = wordpress, world.fake
    post, made = await asyncio.to_thread(discussion, wp)
    quiet_post = await asyncio.to_thread(wp.create_post, "A quiet page", "<p>Nobody answers here.</p>")
    await asyncio.to_thread(wp.add_comment, quiet_post["id"], "A lonely comment.", "Ida")
    bot = make_bot(wp, world, tmp_path, [post["id"], quiet_post["id"]])
    await bot.start()
    await bot.settle()
    busy, quiet = thread_of(fake, world, post), thread_of(fake, world, quiet_post)
    live = await fake.user_says(world.alice, busy, "Seen live before the stop.")
    await bot.relay()
    await bot.stop()

    # While the bot is away: a plain reply, and an answer to Oskar's mirrored comment.
    oskar = message_of(fake, busy, made[1])
    await fake.user_says(world.alice, busy, "Written while the bot was away.")
    await fake.user_says(world.bob, busy, "Night boats are back, Oskar.", reply_to=oskar)
    await start_caught_up(bot)

    found = await relayed(wp, post["id"])
    texts = sorted((c["author_name"], c["content"]["raw"], c["parent"]) for c in found)
    assert texts == [
        ("Alice (via Discord)", "<p>Seen live before the stop.</p>", 0),
        ("Alice (via Discord)", "<p>Written while the bot was away.</p>", 0),
        ("Bob (via Discord)", "<p>Night boats are back, Oskar.</p>", made[1]["id"]),
    ]
    [read] = history_reads(fake, busy.id)
    assert int(read.query["after"]) >= live.id  # from the mark on, not the thread's whole history
    assert not history_reads(fake, quiet.id)  # no news since its mark: not even a request
    assert not [r for r in fake.requests if r.path == f"channels/{quiet.id}"]
    await bot.settle(recheck=True)
    assert len(fake.channel_messages(busy.id)) == len(made) + 3  # the relayed replies are not echoed

    # Another start: the marks were saved, nothing is read or relayed again.
    await bot.restart()
    await caught_up(bot)
    assert len(await relayed(wp, post["id"])) == 3
    assert len(history_reads(fake, busy.id)) == 1
    await bot.stop()


@pytest.mark.wordpress
async def test_a_lost_session_is_caught_up_and_what_came_live_is_relayed_once(
    wordpress: RealWordPress, world: World, errors: ErrorWatch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catchup, "FLUSH_EVERY", 3600.0)  # the live message's mark is not saved yet
    wp, fake = wordpress, world.fake
    post, _ = await asyncio.to_thread(discussion, wp)
    bot = make_bot(wp, world, tmp_path, [post["id"]])
    await bot.start()
    await bot.settle()
    [thread] = fake.threads_in(world.text.id)
    live = await fake.user_says(world.alice, thread, "Seen live.")
    await bot.relay()
    missed = await fake.user_says(world.bob, thread, "Sent while the session was lost.", dispatch=False)
    await fake.user_edits(live, "Seen live, then edited while the session was lost.", dispatch=False)

    gate = fake.hold[HISTORY] = asyncio.Event()  # the catch-up's read is slow to answer
    await fake.gateway_invalidate()  # the session ends; discord.py IDENTIFYs anew: nothing is replayed
    assert bot.adapter is not None and bot.store is not None
    adapter, store = bot.adapter, bot.store
    await fake.wait_for(lambda: adapter.catch_up.session == 2, what="a new session")
    await asyncio.wait_for(fake.held.wait(), 10)

    # Meanwhile a member writes live. Its mark is held: saving it would skip the missed message.
    await fake.user_says(world.alice, thread, "Written live while catching up.")
    await bot.relay()
    await adapter.catch_up.flush()
    assert int(await store.get_chat_state("discord", f"seen:{thread.id}") or 0) < missed.id
    del fake.hold[HISTORY]
    gate.set()
    await caught_up(bot)

    [read] = history_reads(fake, thread.id)
    assert int(read.query["after"]) < live.id  # the live message was read again...
    found = sorted((c["author_name"], c["content"]["raw"]) for c in await relayed(wp, post["id"]))
    assert found == [  # ...and relayed once (its edit too); the missed one arrived
        ("Alice (via Discord)", "<p>Seen live, then edited while the session was lost.</p>"),
        ("Alice (via Discord)", "<p>Written live while catching up.</p>"),
        ("Bob (via Discord)", "<p>Sent while the session was lost.</p>"),
    ]
    assert fake.resumes == 0 and len(fake.identifies) == 2
    await adapter.catch_up.flush()  # in step again: the mark moves on
    assert int(await store.get_chat_state("discord", f"seen:{thread.id}") or 0) > missed.id
    assert await adapter.health() is None
    await bot.stop()


@pytest.mark.wordpress
async def test_a_first_start_without_marks_replays_no_history(
    wordpress: RealWordPress, world: World, errors: ErrorWatch, tmp_path: Path
) -> None:
    wp, fake = wordpress, world.fake
    post, _ = await asyncio.to_thread(discussion, wp)
    bot = make_bot(wp, world, tmp_path, [post["id"]])
    await bot.start()
    await bot.settle()
    [thread] = fake.threads_in(world.text.id)
    await bot.stop()
    # A store from before catching up existed: no marks. What was written before is history.
    store = await Store.open(tmp_path / "bot.db")
    await store.set_chat_state("discord", f"seen:{thread.id}", None)
    await store.close()
    await fake.user_says(world.alice, thread, "Old history, before the upgrade.")

    await start_caught_up(bot)
    assert await relayed(wp, post["id"]) == []
    assert not history_reads(fake, thread.id)
    await bot.stop()

    # From now on the thread has a mark: what comes while the bot is away is caught up.
    await fake.user_says(world.alice, thread, "Written after the upgrade.")
    await start_caught_up(bot)
    assert [c["content"]["raw"] for c in await relayed(wp, post["id"])] == ["<p>Written after the upgrade.</p>"]
    await bot.stop()


@pytest.mark.wordpress
async def test_recently_archived_threads_are_read_and_old_ones_are_not(
    wordpress: RealWordPress, world: World, errors: ErrorWatch, tmp_path: Path
) -> None:
    wp, fake = wordpress, world.fake
    post, _ = await asyncio.to_thread(discussion, wp)
    old_post = await asyncio.to_thread(wp.create_post, "Last year timetable", "<p>Old news.</p>")
    await asyncio.to_thread(wp.add_comment, old_post["id"], "Still valid?", "Ida")
    bot = make_bot(wp, world, tmp_path, [post["id"], old_post["id"]])
    await bot.start()
    await bot.settle()
    recent, old = thread_of(fake, world, post), thread_of(fake, world, old_post)
    await bot.stop()

    # Members wrote in both threads while the bot was away; both were archived again since,
    # one of them long ago (its archive time moved back past the window).
    await fake.user_says(world.alice, recent, "Posted, then the thread went quiet.")
    await fake.user_says(world.bob, old, "Posted long ago.")
    await fake.archive(recent)
    await fake.archive(old)
    old.archive_timestamp -= catchup.ARCHIVED_WINDOW.total_seconds() + 3600

    await start_caught_up(bot)
    assert [c["content"]["raw"] for c in await relayed(wp, post["id"])] == [
        "<p>Posted, then the thread went quiet.</p>"
    ]
    assert await relayed(wp, old_post["id"]) == []
    assert len(history_reads(fake, recent.id)) == 1 and not history_reads(fake, old.id)
    assert len(fake.requests_to(ARCHIVED)) == 1  # one list per channel
    await bot.stop()


async def test_the_fake_pages_archived_threads_and_serves_members(errors: ErrorWatch) -> None:
    """What the catch-up relies on besides history: archived threads listed newest first in pages
    (`before` an archive time) and a member's nickname by id."""
    fake = FakeDiscord()
    world = World(fake)
    for n in range(120):
        thread = Channel(
            fake.ids.next(), world.guild.id, PUBLIC_THREAD, f"old {n}", parent_id=world.text.id, owner_id=fake.bot.id
        )
        thread.archived, thread.archive_timestamp = True, 1_700_000_000.0 + n
        fake.channels[thread.id] = thread
    await fake.start()
    with fake.patch_discord_py():
        client = discord.Client(intents=discord.Intents(guilds=True))
        await client.login(fake.token)
        try:
            channel = await client.fetch_channel(world.text.id)
            assert isinstance(channel, discord.TextChannel)
            names = [t.name async for t in channel.archived_threads(limit=None)]
            assert names == [f"old {n}" for n in reversed(range(120))]
            assert [r.query.get("before") is None for r in fake.requests_to(ARCHIVED)] == [True, False]
            guild = await client.fetch_guild(world.guild.id)
            assert (await guild.fetch_member(world.alice.user.id)).display_name == "Alice"
            with pytest.raises(discord.NotFound):
                await guild.fetch_member(fake.ids.next())  # never joined
        finally:
            await client.close()
    await fake.stop()
    assert not fake.errors, fake.errors
