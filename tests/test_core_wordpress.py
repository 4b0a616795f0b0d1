"""The core against a real WordPress (Debian's package, served on 127.0.0.1 by the test harness)."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.models import ChatMessage
from tests.harness import Bot, site_config
from tests.realwp import RealWordPress
from tests.recording_chat import RecordingChat

pytestmark = pytest.mark.wordpress
_unique = itertools.count(1)


def build_discussion(wp: RealWordPress) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A post with three threads, replies up to three levels deep, written a second apart."""
    n = next(_unique)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    post = wp.create_post(f"Harbour ferry timetable {n}", "<p>The ferry will run every 20 minutes.</p>")
    made: list[dict[str, Any]] = []

    def add(text: str, author: str, parent: int = 0) -> int:
        when = start + timedelta(seconds=len(made))
        comment = wp.add_comment(
            post["id"], f"{text} ({n})", author, parent, date_gmt=when.strftime("%Y-%m-%dT%H:%M:%S")
        )
        made.append(comment)
        return int(comment["id"])

    a = add("Finally, a sensible timetable.", "Maren")
    b = add("@Maren not for the night shift.", "Oskar", a)
    add("@Oskar there is a 23:40 boat now.", "Maren", b)
    add("Agreed with Maren.", "Ida", a)
    c = add("What about bikes on board?", "Tomas")
    add("Bikes ride free until March.", "Ferry Desk", c)
    add("Will the café stay open?", "Lena")
    return post, made


def make_bot(wp: RealWordPress, tmp_path: Path, chat: RecordingChat, post_id: int) -> Bot:
    config = site_config(
        wp.base_url,
        wp.bot_username,
        wp.bot_app_password,
        tmp_path / "bot.db",
        pages=[post_id],
        backfill_days=None,
    )
    return Bot(config, {"terminal": chat})


async def test_real_wordpress_threads_relay_edit_trash_and_restart(
    wordpress: RealWordPress, tmp_path: Path
) -> None:
    wp = wordpress
    post, made = await asyncio.to_thread(build_discussion, wp)
    chat = RecordingChat(name="terminal")
    bot = make_bot(wp, tmp_path, chat, post["id"])
    await bot.start()
    await bot.settle()

    # Mirrored in order, one thread for the page, each reply pointing at its parent's message.
    [thread_ref] = list(chat.threads)
    assert chat.threads[thread_ref].page.title == post["title"]["rendered"]
    shown = chat.visible(thread_ref)
    assert [s.comment_id for s in shown] == [c["id"] for c in made]
    by_id = {c["id"]: c for c in made}
    for message in shown:
        parent = by_id[message.comment_id]["parent"]
        assert message.parent_ref == (chat.ref_of(parent) if parent else None)

    # A chat reply to Oskar's comment lands under it, attributed, approved, escaped; and is not echoed.
    oskar = made[1]
    await chat.human_says(
        ChatMessage(
            chat="terminal",
            channel="main",
            thread_ref=thread_ref,
            message_ref="human-42",
            author_name="Alice",
            author_id="alice",
            text="Night boats <b>matter</b> to me",
            reply_to_ref=chat.ref_of(oskar["id"]),
        )
    )
    await bot.settle()
    await bot.settle(recheck=True)
    relayed = [
        c
        for c in await asyncio.to_thread(wp.list_comments, post["id"])
        if c["author_name"] == "Alice (via terminal)"
    ]
    assert len(relayed) == 1
    assert relayed[0]["parent"] == oskar["id"] and relayed[0]["status"] == "approved"
    assert relayed[0]["author"] == wp.bot_user_id
    assert "&lt;b&gt;matter&lt;/b&gt;" in relayed[0]["content"]["raw"]
    assert all(s.comment_id != relayed[0]["id"] for s in chat.visible())

    # An edit and a trash on the site reach the chat.
    edited, trashed = made[3], made[6]
    await asyncio.to_thread(wp.edit_comment, edited["id"], "Agreed with Maren, and with Oskar too.")
    await asyncio.to_thread(wp.trash_comment, trashed["id"])
    await bot.settle(recheck=True)
    edited_message = chat.messages[chat.ref_of(edited["id"])]
    assert edited_message.edits == 1 and "with Oskar too" in edited_message.text
    assert chat.messages[chat.ref_of(trashed["id"])].deleted

    # A restart mirrors nothing twice, and picks up what came meanwhile.
    sends = chat.sends
    await bot.stop()
    late = await asyncio.to_thread(wp.add_comment, post["id"], "Posted during the restart.", "Nils")
    await bot.start()
    await bot.settle(recheck=True)
    await bot.settle()
    assert chat.sends == sends + 1
    assert chat.visible()[-1].comment_id == late["id"]
    await bot.stop()


async def test_relay_refuses_a_trashed_parent_and_climbs_to_a_live_one(
    wordpress: RealWordPress, tmp_path: Path
) -> None:
    wp = wordpress
    post, made = await asyncio.to_thread(build_discussion, wp)
    chat = RecordingChat(name="terminal")
    bot = make_bot(wp, tmp_path, chat, post["id"])
    await bot.start()
    await bot.settle()
    [thread_ref] = list(chat.threads)
    deepest = made[2]  # Maren's answer to Oskar, under Oskar, under Maren's first comment
    reply_to = chat.ref_of(deepest["id"])
    await asyncio.to_thread(wp.trash_comment, deepest["id"])  # trashed before the bot hears of it
    await chat.human_says(
        ChatMessage(
            "terminal",
            "main",
            thread_ref,
            "human-7",
            "Pia",
            "pia",
            "Replying to a comment that just vanished",
            reply_to,
        )
    )
    await bot.settle()
    [relayed] = [
        c
        for c in await asyncio.to_thread(wp.list_comments, post["id"])
        if c["author_name"] == "Pia (via terminal)"
    ]
    assert relayed["parent"] == made[1]["id"]
    await bot.stop()


async def test_relay_pending_holds_the_reply_for_moderation_and_approval_does_not_echo(
    wordpress: RealWordPress, tmp_path: Path
) -> None:
    wp = wordpress
    post, _ = await asyncio.to_thread(build_discussion, wp)
    chat = RecordingChat(name="terminal")
    config = site_config(
        wp.base_url, wp.bot_username, wp.bot_app_password, tmp_path / "bot.db", pages=[post["id"]], relay="pending"
    )
    bot = Bot(config, {"terminal": chat})
    await bot.start()
    await bot.settle()
    [thread_ref] = list(chat.threads)
    sends = chat.sends
    await chat.human_says(ChatMessage("terminal", "main", thread_ref, "human-held", "Rune", "rune", "Held for review"))
    await bot.settle()

    def held() -> dict[str, Any]:
        [comment] = [c for c in wp.list_comments(post["id"]) if c["author_name"] == "Rune (via terminal)"]
        return comment

    comment = await asyncio.to_thread(held)
    assert comment["status"] == "hold"
    public = await asyncio.to_thread(wp.rest, "GET", "/wp/v2/comments", params={"post": post["id"]}, auth=None)
    assert comment["id"] not in {c["id"] for c in public}  # visitors do not see it yet
    await asyncio.to_thread(wp.edit_comment, comment["id"], comment["content"]["raw"], status="approved")
    await bot.settle(recheck=True)
    assert (await asyncio.to_thread(held))["status"] == "approved"
    assert chat.sends == sends  # approved on the site, still not echoed into the chat it came from
    await bot.stop()
