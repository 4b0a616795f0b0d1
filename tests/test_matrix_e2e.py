"""The Matrix adapter end to end: the real bot between a real WordPress and a real Synapse."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.matrix_bot import MatrixBot, build_discussion, eventually, matrix_config
from tests.realwp import RealWordPress
from tests.synapse import MatrixAccount, MatrixUser, SynapseServer

pytestmark = pytest.mark.wordpress


@dataclass
class Room:
    """A room made by an admin (its creator), with a human member and the bot invited."""

    room_id: str
    bot: MatrixAccount
    admin: MatrixUser
    human: MatrixUser


@pytest.fixture
async def room(synapse: SynapseServer) -> AsyncIterator[Room]:
    bot = synapse.register(synapse.unique("bot"))
    admin = MatrixUser(synapse, synapse.register(synapse.unique("admin")))
    human = MatrixUser(synapse, synapse.register(synapse.unique("alice")))
    await admin.set_name("Ada Admin")
    await human.set_name("Alice")
    room_id = await admin.create_room("Ferry news", invite=[bot.user_id, human.user_id])
    await human.join(room_id)
    yield Room(room_id, bot, admin, human)
    await admin.close()
    await human.close()


def bot_events(thread: list[dict[str, Any]], bot: MatrixAccount) -> list[dict[str, Any]]:
    return [e for e in thread if e["sender"] == bot.user_id]


async def wp_comments(wp: RealWordPress, post_id: int, author: str) -> list[dict[str, Any]]:
    return [c for c in await asyncio.to_thread(wp.list_comments, post_id) if c["author_name"] == author]


async def test_threads_relay_edits_deletions_and_restart(
    wordpress: RealWordPress, synapse: SynapseServer, room: Room, tmp_path: Path
) -> None:
    wp = wordpress
    post, made = await asyncio.to_thread(build_discussion, wp)
    config = matrix_config(wp, synapse, room.bot, [room.room_id], tmp_path / "bot.db", pages=[post["id"]])
    bot = MatrixBot(config)
    await bot.start()
    await bot.settle()

    # One thread root for the page, with its title and link; every comment in it, in order.
    root = await bot.thread_ref(post["id"])
    root_event = await room.human.event(room.room_id, root)
    assert post["title"]["rendered"] in root_event["content"]["body"]
    assert post["link"] in root_event["content"]["formatted_body"]
    thread = bot_events(await room.human.thread(room.room_id, root), room.bot)
    events = {c["id"]: await bot.event_of(c["id"], room.room_id) for c in made}
    assert [e["event_id"] for e in thread] == [events[c["id"]] for c in made]

    # Names, links and nesting: a reply answers its parent's event; a top-level comment only falls back.
    for comment, event in zip(made, thread, strict=True):
        content = event["content"]
        assert content["body"].startswith(comment["author_name"])
        assert comment["link"] in content["body"] and comment["link"] in content["formatted_body"]
        assert content["m.mentions"] == {}
        relation = content["m.relates_to"]
        assert relation["rel_type"] == "m.thread" and relation["event_id"] == root
        if comment["parent"]:
            assert relation["is_falling_back"] is False
            assert relation["m.in_reply_to"]["event_id"] == events[comment["parent"]]
        else:
            assert relation["is_falling_back"] is True
    oskar = made[1]
    assert "@\u200broom" in thread[1]["content"]["body"]  # mirrored text never pings the room
    assert "<em>sensible</em>" in thread[0]["content"]["formatted_body"]
    assert '<a href="https://example.org/bikes">bikes</a>' in thread[4]["content"]["formatted_body"]

    # A human's threaded reply to Oskar lands under Oskar's comment, signed, and is not echoed.
    reply = await room.human.say(
        room.room_id, "Night boats **matter** to me", thread=root, reply_to=events[oskar["id"]]
    )
    relayed = await eventually(lambda: wp_comments(wp, post["id"], "Alice (via Matrix)"), what="relay to WordPress")
    assert len(relayed) == 1 and relayed[0]["parent"] == oskar["id"] and relayed[0]["status"] == "approved"
    assert relayed[0]["author"] == wp.bot_user_id
    await bot.settle(recheck=True)
    assert len(bot_events(await room.human.thread(room.room_id, root), room.bot)) == len(made)

    # A message in the thread that answers nobody becomes a top-level comment.
    latest = thread[-1]["event_id"]
    await room.human.say(room.room_id, "General question: is there a winter timetable?", thread=root, latest=latest)
    general = await eventually(
        lambda: _with_text(wp, post["id"], "Alice (via Matrix)", "winter timetable"), what="top-level relay"
    )
    assert general["parent"] == 0

    # The human edits, then removes, the reply: the site comment follows.
    await room.human.edit(room.room_id, reply, "Night boats matter to me, and to the bakers.")

    async def edited() -> bool:
        comment = await asyncio.to_thread(wp.get_comment, relayed[0]["id"])
        return "to the bakers" in comment["content"]["raw"]

    await eventually(edited, what="Matrix edit on WordPress")
    await room.human.redact(room.room_id, reply)

    async def trashed() -> bool:
        return (await asyncio.to_thread(wp.get_comment, relayed[0]["id"]))["status"] == "trash"

    await eventually(trashed, what="Matrix redaction on WordPress")

    # An edit and a trash on the site reach Matrix as an m.replace and a redaction.
    ida, lena = made[3], made[6]
    await asyncio.to_thread(wp.edit_comment, ida["id"], "Agreed with Maren, and with Oskar too.")
    await asyncio.to_thread(wp.trash_comment, lena["id"])
    await bot.settle(recheck=True)
    edits = await room.human.relations(room.room_id, events[ida["id"]], "m.replace")
    assert len(edits) == 1 and edits[0]["sender"] == room.bot.user_id
    assert "with Oskar too" in edits[0]["content"]["m.new_content"]["body"]
    assert "with Oskar too" in edits[0]["content"]["m.new_content"]["formatted_body"]
    removed = await room.human.event(room.room_id, events[lena["id"]])
    assert removed["content"] == {} and "redacted_because" in removed["unsigned"]

    # A restart sends nothing twice, relays what was said meanwhile, mirrors what came meanwhile.
    before = bot_events(await room.human.thread(room.room_id, root), room.bot)
    sent_before = len(before)
    await bot.stop()
    late = await asyncio.to_thread(wp.add_comment, post["id"], "Posted while the bot was away.", "Nils")
    await room.human.say(room.room_id, "Said while the bot was away", thread=root, reply_to=events[made[0]["id"]])
    await bot.start()
    await eventually(lambda: _with_text(wp, post["id"], "Alice (via Matrix)", "while the bot was away"))
    await bot.settle(recheck=True)
    await bot.settle()
    after = bot_events(await room.human.thread(room.room_id, root), room.bot)
    assert len(after) == sent_before + 1
    assert after[-1]["event_id"] == await bot.event_of(late["id"], room.room_id)
    assert len(await wp_comments(wp, post["id"], "Alice (via Matrix)")) == 3  # the trashed one is listed too
    assert await bot.chat.health() is None
    await bot.stop()


async def _with_text(wp: RealWordPress, post_id: int, author: str, text: str) -> dict[str, Any] | None:
    return next((c for c in await wp_comments(wp, post_id, author) if text in c["content"]["raw"]), None)


async def answer_to(user: MatrixUser, room_id: str, event_id: str, bot: MatrixAccount) -> dict[str, Any]:
    """The bot's notice that answers `event_id`."""

    async def find() -> dict[str, Any] | None:
        for message in await user.room_messages(room_id):
            relation = message["content"].get("m.relates_to", {})
            if message["sender"] == bot.user_id and relation.get("m.in_reply_to", {}).get("event_id") == event_id:
                return message
        return None

    return await eventually(find, what=f"the answer to {event_id}")


async def test_commands_admins_and_answers_in_place(
    wordpress: RealWordPress, synapse: SynapseServer, room: Room, tmp_path: Path
) -> None:
    wp = wordpress
    post, made = await asyncio.to_thread(build_discussion, wp)
    config = matrix_config(wp, synapse, room.bot, [room.room_id], tmp_path / "bot.db")  # no mirrors yet
    bot = MatrixBot(config)
    await bot.start()
    rid = room.room_id

    # A member without power is refused, and told why; the room's creator may.
    asked = await room.human.say(rid, f"!mirror add {post['link']} name=ferry")
    refusal = await answer_to(room.human, rid, asked, room.bot)
    assert refusal["content"]["msgtype"] == "m.notice" and "only admins" in refusal["content"]["body"]
    assert await bot.store.mirrors() == []  # type: ignore[union-attr]
    asked = await room.admin.say(rid, f"!mirror add {post['link']} mode=comment name=ferry")
    added = await answer_to(room.admin, rid, asked, room.bot)
    assert added["content"]["body"].startswith("Added ferry"), added["content"]["body"]
    [mirror] = await bot.store.mirrors()  # type: ignore[union-attr]
    assert mirror.thread_per == "comment" and mirror.targets[0].channel == rid

    # The mirror works: one thread per top-level comment, each with its replies.
    await bot.settle()
    top_level = [c for c in made if c["parent"] == 0]
    for comment in top_level:
        root = await bot.thread_ref(post["id"], comment["id"])
        thread = bot_events(await room.human.thread(rid, root), room.bot)
        assert thread[0]["event_id"] == await bot.event_of(comment["id"], rid)

    # Asked in a thread, answered in that thread; help shows the Matrix spelling.
    root = await bot.thread_ref(post["id"], top_level[0]["id"])
    asked = await room.human.say(rid, "!help", thread=root, latest=root)
    help_text = await answer_to(room.human, rid, asked, room.bot)
    relation = help_text["content"]["m.relates_to"]
    assert relation["rel_type"] == "m.thread" and relation["event_id"] == root
    assert "!mirror list" in help_text["content"]["body"]

    # Anyone may ask a mirrored thread for its summary; it answers in that thread.
    asked = await room.human.say(rid, "!summarize", thread=root, latest=root)
    summary = await answer_to(room.human, rid, asked, room.bot)
    assert summary["content"]["body"].startswith("Summary:"), summary["content"]["body"]
    assert summary["content"]["m.relates_to"]["event_id"] == root

    # Power level 50 makes an admin (admin_power_level); `mirror status` shows the chat's health.
    levels = await room.admin.state(rid, "m.room.power_levels")
    levels.setdefault("users", {})[room.human.user_id] = 50
    await room.admin.put_state(rid, "m.room.power_levels", levels)
    asked = await room.human.say(rid, "!mirror pause ferry")
    paused = await answer_to(room.human, rid, asked, room.bot)
    assert paused["content"]["body"].startswith("Paused ferry")
    asked = await room.human.say(rid, "!mirror status")
    status = await answer_to(room.human, rid, asked, room.bot)
    assert "chat matrix: ok" in status["content"]["body"]

    # Prose that merely starts with "!" is left alone; a garbled command is answered.
    await room.human.say(rid, "!important: the ferry is late")
    asked = await room.admin.say(rid, '!mirror add "unbalanced')
    garbled = await answer_to(room.admin, rid, asked, room.bot)
    assert "could not read" in garbled["content"]["body"]
    answers = [m for m in await room.human.room_messages(rid) if m["content"].get("msgtype") == "m.notice"]
    assert len(answers) == 7
    await bot.stop()


async def test_a_burst_under_synapses_default_rate_limit_is_delivered_completely(
    wordpress: RealWordPress, synapse: SynapseServer, tmp_path: Path
) -> None:
    wp = wordpress
    n = 10  # with the thread root and the join: past the burst of 10, so two sends must wait ~5 s
    post = await asyncio.to_thread(wp.create_post, "A busy evening at the harbour", "<p>Live.</p>")
    for i in range(n):
        await asyncio.to_thread(wp.add_comment, post["id"], f"Burst comment number {i + 1}.", f"Reader {i + 1}")
    bot_account = synapse.register(synapse.unique("slowbot"), unlimited=False)  # Synapse's default rc_message
    owner = MatrixUser(synapse, synapse.register(synapse.unique("owner")))
    rid = await owner.create_room("Harbour live", invite=[bot_account.user_id])
    config = matrix_config(wp, synapse, bot_account, [rid], tmp_path / "bot.db", pages=[post["id"]])
    bot = MatrixBot(config)
    await bot.start()
    seen: list[str | None] = []

    async def watch() -> None:
        while True:
            seen.append(await bot.chat.health())
            await asyncio.sleep(0.5)

    watcher = asyncio.create_task(watch())
    await bot.settle(within=120)
    watcher.cancel()
    root = await bot.thread_ref(post["id"])
    thread = bot_events(await owner.thread(rid, root), bot_account)
    bodies = [e["content"]["body"] for e in thread]
    assert len(thread) == n
    assert all(f"number {i + 1}." in body for i, body in enumerate(bodies))
    assert bot.chat.rate_limited > 0  # it did meet the limit, and waited it out
    assert any(s and "rate limited" in s for s in seen)
    assert await bot.store.outbox_stats() == {"pending": 0, "failed": 0, "oldest_pending": None}  # type: ignore[union-attr]
    await bot.stop()
    await owner.close()
