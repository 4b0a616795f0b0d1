"""The Discord adapter on the real discord.py, against the fake Discord and the real WordPress, with the real App."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fake_discord import FakeDiscord
from tests.fake_discord.model import (
    GUILD_FORUM,
    MANAGE_GUILD,
    MANAGE_WEBHOOKS,
    READ_MESSAGE_HISTORY,
    Channel,
    Guild,
    Member,
    Message,
)
from tests.fake_discord.support import DiscordBot, ErrorWatch, bot_config, discord_config, watch_errors
from tests.realwp import RealWordPress

pytestmark = pytest.mark.wordpress
_unique = itertools.count(1)
WEBHOOK_EXECUTE = "POST webhooks/{webhook_id}/{webhook_token}"
BOT_MESSAGE = "POST channels/{channel_id}/messages"


class World:
    """A guild with a text channel and a forum, an admin and a member, and the fake serving them."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.guild: Guild = fake.add_guild("Harbour Town")
        self.text: Channel = fake.add_channel(self.guild, "site-comments")
        self.forum: Channel = fake.add_channel(self.guild, "discussions", GUILD_FORUM)
        self.admin: Member = fake.add_member(self.guild, "harbourmaster", "Harbour Master", permissions=MANAGE_GUILD)
        self.alice: Member = fake.add_member(self.guild, "alice", "Alice Liddell", nick="Alice")
        self.bob: Member = fake.add_member(self.guild, "bob", "Bob")


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


def discussion(wp: RealWordPress, long_text: bool = False) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A post with two threads of replies (up to three deep), written a second apart."""
    n = next(_unique)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    post = wp.create_post(f"Harbour ferry timetable {n}", "<p>The ferry will run every 20 minutes from May.</p>")
    made: list[dict[str, Any]] = []

    def add(text: str, author: str, parent: int = 0) -> int:
        when = start + timedelta(seconds=len(made))
        comment = wp.add_comment(
            post["id"], f"{text} ({n})", author, parent, date_gmt=when.strftime("%Y-%m-%dT%H:%M:%S")
        )
        made.append(comment)
        return int(comment["id"])

    a = add("Finally, a sensible timetable. @everyone should read it", "Maren")
    b = add("Not for the night shift.", "Oskar", a)
    add("There is a 23:40 boat now.", "Maren", b)
    c = add("What about bikes on board?", "Tomas Discordia")
    add("Bikes ride free until March. " + ("Long answer. " * 250 if long_text else ""), "Ferry Desk", c)
    return post, made


def make_bot(
    wp: RealWordPress, fake: FakeDiscord, world: World, tmp_path: Path, channel: Channel, post_id: int, **mirror: Any
) -> DiscordBot:
    config = bot_config(
        wp.base_url,
        wp.bot_username,
        wp.bot_app_password,
        tmp_path / "bot.db",
        discord_config(fake, [world.guild.id], tmp_path / "bot.db"),
        [{"chat": "discord", "channel": str(channel.id)}],
        backfill_days=None,
        pages=[post_id],
        **mirror,
    )
    return DiscordBot(config)


def mirrored(fake: FakeDiscord, thread: Channel) -> list[Message]:
    """What the bot posted in a thread (webhook or bot messages), in order."""
    return [m for m in fake.channel_messages(thread.id) if m.webhook_id or m.author.id == fake.bot.id]


def parts_by_comment(fake: FakeDiscord, thread: Channel) -> dict[int, list[Message]]:
    """The mirrored messages of each comment: parts follow each other, the last one links the comment."""
    found: dict[int, list[Message]] = {}
    pending: list[Message] = []
    for message in mirrored(fake, thread):
        pending.append(message)
        link = re.search(r"#comment-(\d+)>\)$", message.content)
        if link:
            found[int(link.group(1))] = pending
            pending = []
    return found


def message_of(fake: FakeDiscord, thread: Channel, comment: dict[str, Any]) -> Message:
    return parts_by_comment(fake, thread)[comment["id"]][0]


async def test_threads_webhooks_relay_edits_deletions_and_restart(
    wordpress: RealWordPress, world: World, errors: ErrorWatch, tmp_path: Path
) -> None:
    wp, fake = wordpress, world.fake
    post, made = await asyncio.to_thread(discussion, wp, True)
    bot = make_bot(wp, fake, world, tmp_path, world.text, post["id"])
    await bot.start()
    await bot.settle()

    # One thread, started from a message with the title, link and excerpt.
    [thread] = fake.threads_in(world.text.id)
    title = post["title"]["rendered"]
    assert thread.name == title
    [starter] = fake.channel_messages(world.text.id)
    assert starter.thread_id == thread.id and title in starter.content and post["link"] in starter.content
    assert "every 20 minutes" in starter.content

    # Every comment through the channel's webhook, under its author's name, in order.
    posted = mirrored(fake, thread)
    assert all(m.webhook_id for m in posted)
    assert len({m.webhook_id for m in posted}) == 1
    by_comment = [(c["id"], message_of(fake, thread, c)) for c in made]
    assert [m.id for _, m in by_comment] == sorted(m.id for _, m in by_comment)
    assert [m.webhook_name for _, m in by_comment] == ["Maren", "Oskar", "Maren", "Tomas Disc\u043erdia", "Ferry Desk"]
    # the long answer was split in two parts, the first without the link footer
    assert len(posted) == len(made) + 1
    assert all(len(m.content) <= 2000 for m in posted)
    # nobody is pinged: allowed_mentions is empty everywhere, and @everyone is defused
    assert all(m.allowed_mentions == {"parse": []} for m in [*posted, starter])
    assert "@\u200beveryone" in by_comment[0][1].content
    # replies quote their parent and link to its message
    ids = {c["id"]: m for c, m in zip(made, [m for _, m in by_comment], strict=True)}
    for comment in made:
        message = ids[comment["id"]]
        if comment["parent"]:
            parent_message = ids[comment["parent"]]
            link = f"https://discord.com/channels/{world.guild.id}/{thread.id}/{parent_message.id}"
            assert message.content.startswith("> ↪ **"), message.content
            assert link in message.content.splitlines()[0]
        else:
            assert not message.content.startswith(">")

    # A member's reply to Oskar's message lands on WordPress under Oskar's comment, and is not echoed.
    oskar = ids[made[1]["id"]]
    reply = await fake.user_says(world.alice, thread, "Night boats **matter** to me", reply_to=oskar)
    await bot.relay()
    await bot.settle(recheck=True)
    relayed = [
        c for c in await asyncio.to_thread(wp.list_comments, post["id"]) if c["author_name"] == "Alice (via Discord)"
    ]
    assert len(relayed) == 1
    assert relayed[0]["parent"] == made[1]["id"] and relayed[0]["status"] == "approved"
    assert "<strong>matter</strong>" in relayed[0]["content"]["raw"]
    assert len(mirrored(fake, thread)) == len(posted)  # not mirrored back into its own thread

    # A reply without a reference goes under the page; the member edits it, then deletes it.
    plain = await fake.user_says(world.bob, thread, "When does the first boat leave?")
    await bot.relay()
    [bobs] = [
        c for c in await asyncio.to_thread(wp.list_comments, post["id"]) if c["author_name"] == "Bob (via Discord)"
    ]
    assert bobs["parent"] == 0
    await fake.user_edits(plain, "When does the first boat leave on Sundays?")
    await bot.relay()
    assert "on Sundays" in (await asyncio.to_thread(wp.get_comment, bobs["id"]))["content"]["raw"]
    await fake.user_deletes(plain)
    await bot.relay()
    assert (await asyncio.to_thread(wp.get_comment, bobs["id"]))["status"] == "trash"
    assert reply.id  # Alice's reply stays

    # Site edits follow (webhook edits; a longer text gets a new part, a shorter one loses it);
    # a trashed comment's message is deleted.
    edited, long_one, trashed = made[3], made[4], made[2]
    edited_message = ids[edited["id"]]
    long_parts = parts_by_comment(fake, thread)[long_one["id"]]
    assert len(long_parts) == 2
    await asyncio.to_thread(wp.edit_comment, edited["id"], "What about bikes and prams on board?")
    await asyncio.to_thread(wp.edit_comment, long_one["id"], "Bikes ride free until March. That is all.")
    await asyncio.to_thread(wp.trash_comment, trashed["id"])
    await bot.settle(recheck=True)
    assert "prams" in edited_message.content and edited_message.history and not edited_message.deleted
    assert ids[trashed["id"]].deleted
    assert long_parts[1].deleted and not long_parts[0].deleted
    assert "That is all." in long_parts[0].content
    assert fake.requests_to("PATCH webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", 200)

    # A restart sends nothing twice and picks up what came meanwhile.
    executions = len(fake.requests_to(WEBHOOK_EXECUTE, 200))
    await bot.stop()
    late = await asyncio.to_thread(wp.add_comment, post["id"], "Posted during the restart.", "Nils")
    await bot.start()
    await bot.settle(recheck=True)
    await bot.settle()
    assert len(fake.requests_to(WEBHOOK_EXECUTE, 200)) == executions + 1
    assert (
        mirrored(fake, thread)[-1].webhook_name == "Nils"
        and f"#comment-{late['id']}>" in mirrored(fake, thread)[-1].content
    )
    assert len(fake.threads_in(world.text.id)) == 1
    assert len([w for w in fake.webhooks.values() if w.channel_id == world.text.id]) == 1  # reused, not remade
    assert bot.adapter is not None and not bot.adapter.errors
    await bot.stop()


async def test_forum_posts_per_comment_long_names_and_growing_edits(
    wordpress: RealWordPress, world: World, errors: ErrorWatch, tmp_path: Path
) -> None:
    wp, fake = wordpress, world.fake
    n = next(_unique)
    post = await asyncio.to_thread(wp.create_post, f"A very long title about the harbour ferry timetable {n} " * 3)
    first = await asyncio.to_thread(wp.add_comment, post["id"], f"Top comment one ({n})", "Maren")
    answer = await asyncio.to_thread(wp.add_comment, post["id"], f"An answer ({n})", "Oskar", first["id"])
    second = await asyncio.to_thread(wp.add_comment, post["id"], f"Top comment two ({n})", "Ida")
    bot = make_bot(wp, fake, world, tmp_path, world.forum, post["id"], thread_per="comment")
    await bot.start()
    await bot.settle()

    by_author = {p.name.split(" on ")[0]: p for p in fake.threads_in(world.forum.id)}
    assert set(by_author) == {"Maren", "Ida"}  # threads of different comments are made concurrently
    posts = [by_author["Maren"], by_author["Ida"]]
    assert all(len(p.name) <= 100 and p.name.endswith("…") for p in posts)
    # a forum post's first message is the bot's own (title and link); the comments follow by webhook
    for forum_post, top, replies in ((posts[0], first, [answer]), (posts[1], second, [])):
        messages = fake.channel_messages(forum_post.id)
        assert messages[0].id == forum_post.id and messages[0].author.id == fake.bot.id and not messages[0].webhook_id
        assert post["link"] in messages[0].content
        comments = parts_by_comment(fake, forum_post)
        assert list(comments) == [top["id"]] + [r["id"] for r in replies]
    assert all(m.webhook_id for m in mirrored(fake, posts[0])[1:])

    # An edit that makes a comment longer than a message sends the extra part through the webhook.
    await asyncio.to_thread(wp.edit_comment, answer["id"], "Much longer now. " * 120)
    await bot.settle(recheck=True)
    parts = parts_by_comment(fake, posts[0])
    assert len(parts[answer["id"]]) == 2
    assert all(m.webhook_name == "Oskar" and len(m.content) <= 2000 for m in parts[answer["id"]])
    assert parts[answer["id"]][0].history  # the first part was edited in place

    # After the gateway asks for a reconnect (and discord.py RESUMEs), a reply in the forum post
    # lands under the post's top comment, with mentions written out as names.
    await fake.gateway_reconnect()
    await fake.wait_for(lambda: fake.resumes == 1, what="a RESUME")
    await fake.user_says(world.alice, posts[1], f"Agreed, Ida. <@{world.bob.user.id}> too")
    await bot.relay()
    [relayed] = [
        c for c in await asyncio.to_thread(wp.list_comments, post["id"]) if c["author_name"] == "Alice (via Discord)"
    ]
    assert relayed["parent"] == second["id"]
    assert "Agreed, Ida. @Bob too" in relayed["content"]["raw"]
    assert len(fake.identifies) == 1
    await bot.stop()


async def test_without_manage_webhooks_the_bot_posts_as_itself_and_says_so(
    wordpress: RealWordPress, world: World, errors: ErrorWatch, tmp_path: Path
) -> None:
    wp, fake = wordpress, world.fake
    fake.deny(world.text, fake.bot_role(world.guild).id, MANAGE_WEBHOOKS)
    post, made = await asyncio.to_thread(discussion, wp)
    bot = make_bot(wp, fake, world, tmp_path, world.text, post["id"])
    await bot.start()
    await bot.settle()
    [thread] = fake.threads_in(world.text.id)
    posted = mirrored(fake, thread)
    assert len(posted) == len(made) and not fake.webhooks
    assert all(m.author.id == fake.bot.id and m.webhook_id is None for m in posted)
    assert [m.content.split("\n", 1)[0] for m in posted] == [f"**{c['author_name']}**" for c in made]
    assert all(m.nonce and len(m.nonce) <= 25 for m in posted)
    assert len({m.nonce for m in posted}) == len(posted)

    # Site edits and deletions work on the bot's own messages too.
    await asyncio.to_thread(wp.edit_comment, made[1]["id"], "Not for the night shift, sadly.")
    await asyncio.to_thread(wp.trash_comment, made[2]["id"])
    await bot.settle(recheck=True)
    assert "sadly" in posted[1].content and posted[2].deleted

    # /mirror status tells the admin why, and what to do.
    interaction = await fake.invoke(world.admin, world.text, "mirror", "status")
    await fake.wait_for(lambda: bool(interaction.followups), what="the status answer")
    [answer] = interaction.replies()
    assert "no Manage Webhooks permission" in answer and f"<#{world.text.id}>" in answer
    assert "Read Message History" not in answer
    assert interaction.all_ephemeral()

    # Without Read Message History a retry could not check what arrived: status says that too.
    fake.deny(world.text, fake.bot_role(world.guild).id, READ_MESSAGE_HISTORY)
    await fake.channel_changed(world.text)
    await asyncio.sleep(0.05)
    await asyncio.to_thread(wp.add_comment, post["id"], "One more for the history check.", "Nils")
    await bot.settle()
    assert bot.adapter is not None
    health = await bot.adapter.health()
    assert health is not None and "no Read Message History permission" in health
    await bot.stop()


async def test_slash_commands_for_admins_and_refusals_for_others(
    wordpress: RealWordPress, world: World, errors: ErrorWatch, tmp_path: Path
) -> None:
    wp, fake = wordpress, world.fake
    n = next(_unique)
    post = await asyncio.to_thread(wp.create_post, f"Slash command page {n}")
    await asyncio.to_thread(wp.add_comment, post["id"], f"First! ({n})", "Lena")
    config = bot_config(
        wp.base_url,
        wp.bot_username,
        wp.bot_app_password,
        tmp_path / "bot.db",
        discord_config(fake, [world.guild.id], tmp_path / "bot.db"),
        [],
    )
    bot = DiscordBot(config)
    await bot.start()

    # Synced to the guild: /mirror with its subcommands, for Manage Server by default, guild only.
    commands = {c["name"]: c for c in fake.commands[world.guild.id]}
    assert set(commands) == {"mirror", "summarize"}
    assert not commands["summarize"].get("default_member_permissions")  # /summarize is for everyone
    command = commands["mirror"]
    assert command["name"] == "mirror" and command["default_member_permissions"] == str(MANAGE_GUILD)
    assert command["contexts"] == [0] or command["dm_permission"] is False
    subcommands = {o["name"]: o for o in command["options"]}
    assert set(subcommands) == {"add", "remove", "list", "pause", "resume", "status"}
    add_options = {o["name"]: o for o in subcommands["add"]["options"]}
    assert add_options["url"]["required"] and sorted(add_options["channel"]["channel_types"]) == [0, 5, 15, 16]
    assert [c["value"] for c in add_options["mode"]["choices"]] == ["page", "comment"]
    assert subcommands["pause"]["options"][0]["autocomplete"] is True
    assert not fake.command_permissions_allow(world.alice, world.text, "mirror")
    assert fake.command_permissions_allow(world.admin, world.text, "mirror")

    async def run(member: Member, sub: str, **options: Any) -> str:
        interaction = await fake.invoke(member, world.text, "mirror", sub, options)
        await fake.wait_for(lambda: bool(interaction.followups), what=f"/mirror {sub}")
        assert interaction.all_ephemeral()
        return "\n".join(interaction.replies())

    # A member the server admins let see the command is still refused, with the reason.
    refusal = await run(world.alice, "add", url=post["link"])
    assert "only admins" in refusal
    assert await bot.app.store.mirrors() == []  # type: ignore[union-attr]

    answer = await run(world.admin, "add", url=post["link"], channel=world.forum, mode="comment", name="ferry")
    assert answer.startswith("Added ferry")
    [mirror] = await bot.app.store.mirrors()  # type: ignore[union-attr]
    assert mirror.thread_per == "comment" and [(t.chat, t.channel) for t in mirror.targets] == [
        ("discord", str(world.forum.id))
    ]
    await bot.settle()
    assert len(fake.threads_in(world.forum.id)) == 1

    # /summarize in a mirrored thread: for everyone, private to the asker unless an admin asks for public.
    [thread] = fake.threads_in(world.forum.id)
    for member, public, private in ((world.alice, False, True), (world.alice, True, True), (world.admin, True, False)):
        asked = await fake.invoke(member, thread, "summarize", None, {"length": "short", "public": public})
        await fake.wait_for(lambda asked=asked: bool(asked.followups), what="/summarize")
        assert asked.all_ephemeral() == private
        assert "\n".join(asked.replies()).startswith("Summary:") and f"First! ({n})" in asked.replies()[-1]

    # autocomplete offers the mirror names (to admins only)
    choose = await fake.invoke(world.admin, world.text, "mirror", "pause", {"name": "fer"}, focused="name")
    await fake.wait_for(lambda: bool(choose.callbacks), what="autocomplete")
    assert choose.choices() == [{"name": "ferry", "value": "ferry"}]
    hidden = await fake.invoke(world.alice, world.text, "mirror", "pause", {"name": "fer"}, focused="name")
    await fake.wait_for(lambda: bool(hidden.callbacks), what="autocomplete")
    assert hidden.choices() == []

    assert "ferry" in await run(world.admin, "list")
    assert "Paused ferry" in await run(world.admin, "pause", name="ferry")
    assert "Resumed ferry" in await run(world.admin, "resume", name="ferry")
    assert "no mirror named 'nope'" in await run(world.admin, "pause", name="nope")
    status = await run(world.admin, "status")
    assert "chat discord: ok" in status and "mirror ferry" in status
    assert "only admins" in await run(world.bob, "remove", name="ferry")
    assert "Removed ferry" in await run(world.admin, "remove", name="ferry")
    assert await bot.app.store.mirrors() == []  # type: ignore[union-attr]

    # A command that fails tells the user (ephemerally) and reaches the operator's log.
    assert bot.app is not None and bot.adapter is not None

    class Broken:
        async def on_command(self, call: Any) -> None:
            raise RuntimeError("the store is gone")

    bot.adapter.events = Broken()  # type: ignore[assignment]
    errors.allow("slash command")
    answer = await run(world.admin, "list")
    assert "Something went wrong" in answer and "the store is gone" in answer
    assert any("the store is gone" in e for e in bot.adapter.errors)
    bot.adapter.events = bot.app
    await bot.stop()


async def test_a_restart_mid_delivery_sends_nothing_twice(
    wordpress: RealWordPress, world: World, errors: ErrorWatch, tmp_path: Path
) -> None:
    """The bot stops while a webhook post has reached Discord but its answer has not reached the bot."""
    wp, fake = wordpress, world.fake
    post, made = await asyncio.to_thread(discussion, wp)
    bot = make_bot(wp, fake, world, tmp_path, world.text, post["id"])
    await bot.start()
    gate = fake.hold[WEBHOOK_EXECUTE] = asyncio.Event()
    assert bot.app is not None
    await bot.app.pollers["site"].poll_once()
    await asyncio.wait_for(fake.held.wait(), 30)
    [thread] = fake.threads_in(world.text.id)
    assert len(mirrored(fake, thread)) == 1  # the first comment is on Discord; its answer is held
    await bot.stop()
    del fake.hold[WEBHOOK_EXECUTE]
    gate.set()

    await bot.start()
    await bot.settle()
    comments = parts_by_comment(fake, thread)
    assert list(comments) == [c["id"] for c in made]
    assert all(len(parts) == 1 for parts in comments.values())
    assert len(fake.threads_in(world.text.id)) == 1
    assert len(fake.requests_to(WEBHOOK_EXECUTE, 200)) == len(made)  # the held one was found, not resent
    await bot.stop()


async def test_a_lost_answer_is_reconciled_not_resent(
    wordpress: RealWordPress, world: World, errors: ErrorWatch, tmp_path: Path
) -> None:
    """Discord made the message and the thread, but the connection broke before the answers arrived."""
    wp, fake = wordpress, world.fake
    post, made = await asyncio.to_thread(discussion, wp)
    bot = make_bot(wp, fake, world, tmp_path, world.text, post["id"])
    await bot.start()
    fake.drop_next[WEBHOOK_EXECUTE] = 2
    fake.drop_next[BOT_MESSAGE] = 1  # the thread's starter message
    await bot.settle()
    assert fake.drop_next == {WEBHOOK_EXECUTE: 0, BOT_MESSAGE: 0}  # both answers were lost
    assert len(fake.requests_to(WEBHOOK_EXECUTE, 200)) == len(made)  # and nothing was sent again
    [thread] = fake.threads_in(world.text.id)
    assert len(fake.channel_messages(world.text.id)) == 1
    comments = parts_by_comment(fake, thread)
    assert list(comments) == [c["id"] for c in made]
    assert len(mirrored(fake, thread)) == len(made)
    await bot.stop()


async def test_a_429_burst_delivers_everything_once_in_order(
    wordpress: RealWordPress, world: World, errors: ErrorWatch, tmp_path: Path
) -> None:
    wp, fake = wordpress, world.fake
    n = next(_unique)
    post = await asyncio.to_thread(wp.create_post, f"Busy page {n}")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    made = [
        await asyncio.to_thread(
            wp.add_comment,
            post["id"],
            f"Comment number {i} ({n})",
            f"Visitor {i}",
            date_gmt=(start + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S"),
        )
        for i in range(24)
    ]
    fake.rate_limit(WEBHOOK_EXECUTE, 5, 0.5)
    fake.force_429(WEBHOOK_EXECUTE, 3, 0.2)  # and some 429s on top of the bucket's own
    bot = make_bot(wp, fake, world, tmp_path, world.text, post["id"])
    await bot.start()
    await bot.settle()
    [thread] = fake.threads_in(world.text.id)
    comments = parts_by_comment(fake, thread)
    assert list(comments) == [c["id"] for c in made]
    assert len(mirrored(fake, thread)) == len(made)
    assert fake.limiter.served_429 >= 3
    await bot.stop()


async def test_archived_threads_reopen_and_uncached_threads_still_relay(
    wordpress: RealWordPress, world: World, errors: ErrorWatch, tmp_path: Path
) -> None:
    wp, fake = wordpress, world.fake
    post, _ = await asyncio.to_thread(discussion, wp)
    bot = make_bot(wp, fake, world, tmp_path, world.text, post["id"])
    await bot.start()
    await bot.settle()
    [thread] = fake.threads_in(world.text.id)

    # Archived (and so dropped from discord.py's cache): a new comment unarchives it first.
    await fake.archive(thread)
    await asyncio.sleep(0.05)
    late = await asyncio.to_thread(wp.add_comment, post["id"], "A comment for an archived thread.", "Nils")
    await bot.settle()
    assert not thread.archived
    assert parts_by_comment(fake, thread)[late["id"]]
    assert fake.requests_to("PATCH channels/{channel_id}", 200)

    # Archived again; a site edit reaches the archived thread too.
    await fake.archive(thread)
    await asyncio.to_thread(wp.edit_comment, late["id"], "A comment for an archived thread, edited.")
    await bot.settle(recheck=True)
    assert "edited" in parts_by_comment(fake, thread)[late["id"]][0].content

    # A member posts in a thread discord.py does not have in its cache (a PartialMessageable channel).
    await fake.archive(thread)
    await asyncio.sleep(0.05)
    assert bot.adapter is not None and bot.adapter.client is not None
    assert bot.adapter.client.get_channel(thread.id) is None
    await fake.user_says(world.alice, thread, "Still reading this thread.", announce_unarchive=False)
    await bot.relay()
    [relayed] = [
        c for c in await asyncio.to_thread(wp.list_comments, post["id"]) if c["author_name"] == "Alice (via Discord)"
    ]
    assert relayed["parent"] == 0
    await bot.stop()


async def test_without_the_message_content_intent_comments_still_flow_and_status_says_why(
    wordpress: RealWordPress, errors: ErrorWatch, tmp_path: Path
) -> None:
    fake = FakeDiscord(message_content_enabled=False)
    world = World(fake)
    await fake.start()
    with fake.patch_discord_py():
        wp = wordpress
        post, made = await asyncio.to_thread(discussion, wp)
        bot = make_bot(wp, fake, world, tmp_path, world.text, post["id"])
        errors.allow("Message Content intent")
        await bot.start()
        await bot.settle()
        [thread] = fake.threads_in(world.text.id)
        assert len(parts_by_comment(fake, thread)) == len(made)
        # Discord refused the privileged intent (4014); the bot connected again without it.
        assert [i["intents"] & (1 << 15) for i in fake.identifies] == [1 << 15, 0]
        await fake.user_says(world.alice, thread, "You cannot read this without the intent.")
        await bot.relay()
        comments = await asyncio.to_thread(wp.list_comments, post["id"])
        assert not [c for c in comments if "via Discord" in c["author_name"]]
        assert bot.adapter is not None
        health = await bot.adapter.health()
        assert health is not None and "Message Content intent" in health
        await bot.stop()
    await fake.stop()


async def test_a_deleted_webhook_is_replaced(
    wordpress: RealWordPress, world: World, errors: ErrorWatch, tmp_path: Path
) -> None:
    wp, fake = wordpress, world.fake
    post, made = await asyncio.to_thread(discussion, wp)
    bot = make_bot(wp, fake, world, tmp_path, world.text, post["id"])
    await bot.start()
    await bot.settle()
    [thread] = fake.threads_in(world.text.id)
    [old_hook] = list(fake.webhooks)
    del fake.webhooks[old_hook]  # a moderator deleted it in the channel settings

    late = await asyncio.to_thread(wp.add_comment, post["id"], "After the webhook was deleted.", "Nils")
    await asyncio.to_thread(wp.edit_comment, made[0]["id"], "Finally, a sensible timetable (edited).")
    await bot.settle(recheck=True)
    [new_hook] = list(fake.webhooks)
    assert new_hook != old_hook
    comments = parts_by_comment(fake, thread)
    assert comments[late["id"]][0].webhook_id == new_hook
    # The old webhook's messages can no longer be edited by anyone: the edit is posted anew.
    assert "(edited)" in comments[made[0]["id"]][-1].content
    assert comments[made[0]["id"]][-1].webhook_id == new_hook
    await bot.stop()
