"""The core end to end: sample site (WordPress REST shapes over HTTP) → bot → recording chat → site."""

from __future__ import annotations

from pathlib import Path

import pytest

import bot.core.app as app_module
from bot.config import RelaySettings
from bot.models import ChatDelete, ChatEdit, ChatMessage
from bot.sample_site.server import BOT_APP_PASSWORD, BOT_USERNAME, SampleSite
from tests.harness import Bot, site_config
from tests.recording_chat import RecordingChat


def make_bot(site: SampleSite, tmp_path: Path, *chats: RecordingChat, **mirror: object) -> Bot:
    config = site_config(site.base_url, BOT_USERNAME, BOT_APP_PASSWORD, tmp_path / "bot.db", **mirror)
    return Bot(config, {c.name: c for c in chats} or {"terminal": RecordingChat(name="terminal")})


def approved(site: SampleSite, post_id: int) -> list[int]:
    rows = [c for c in site.comments.values() if c.post == post_id and c.status == "approved"]
    return [c.id for c in sorted(rows, key=lambda c: (c.date_gmt, c.id))]


async def test_threads_are_mirrored_in_order_with_their_nesting(site: SampleSite, tmp_path: Path) -> None:
    chat = RecordingChat(name="terminal")
    bot = make_bot(site, tmp_path, chat)
    await bot.start()
    await bot.settle()
    post_ids = sorted({c.post for c in site.comments.values()})
    assert len(chat.threads) == len(post_ids)  # one thread per page
    for thread_ref, header in chat.threads.items():
        shown = chat.visible(thread_ref)
        assert [s.comment_id for s in shown] == approved(site, header.page.id)
        assert header.page.title == site.posts[header.page.id].title
        for message in shown:
            parent = site.comments[message.comment_id].parent
            assert message.parent_ref == (chat.ref_of(parent) if parent else None)
    await bot.stop()


async def test_a_chat_reply_lands_under_its_parent_once_and_never_echoes(site: SampleSite, tmp_path: Path) -> None:
    here = RecordingChat(name="terminal")
    # Two channels of one chat stand for two places the page fans out to.
    bot = make_bot(
        site,
        tmp_path,
        here,
        targets=[{"chat": "terminal", "channel": "a"}, {"chat": "terminal", "channel": "b"}],
    )
    await bot.start()
    await bot.settle()
    answered = next(s for s in here.visible() if here.thread_channels[s.thread_ref] == "a")
    reply = ChatMessage(
        chat="terminal",
        channel="a",
        thread_ref=answered.thread_ref,
        message_ref="human-1",
        author_name="Alice",
        author_id="u1",
        text="Good point <script>alert(1)</script>",
        reply_to_ref=answered.ref,
    )
    before = len(site.comments)
    await here.human_says(reply)
    await bot.settle()
    await bot.settle(recheck=True)
    new = [c for c in site.comments.values() if c.author_name == "Alice (via terminal)"]
    assert len(site.comments) == before + 1 and len(new) == 1
    assert new[0].parent == answered.comment_id and new[0].user_id == 2
    assert "<script>" not in new[0].content and "&lt;script&gt;" in new[0].content
    copies = [s for s in here.visible() if s.comment_id == new[0].id]
    # Mirrored into channel b (the site is the hub), never back into channel a where Alice wrote it.
    assert [here.thread_channels[s.thread_ref] for s in copies] == ["b"]
    await here.human_says(reply)  # the same chat message delivered twice (a reconnect) relays once
    await bot.settle()
    assert len([c for c in site.comments.values() if c.author_name == "Alice (via terminal)"]) == 1
    await bot.stop()


async def test_edits_and_removals_on_the_site_follow_into_chat(site: SampleSite, tmp_path: Path) -> None:
    chat = RecordingChat(name="terminal")
    bot = make_bot(site, tmp_path, chat)
    await bot.start()
    await bot.settle()
    first, second, *_ = chat.visible()
    site.edit_comment(first.comment_id, "Corrected: the bridge reopens on Monday.")
    site.trash_comment(second.comment_id)
    await bot.settle(recheck=True)
    assert chat.messages[first.ref].edits == 1 and "Corrected" in chat.messages[first.ref].text
    assert chat.messages[second.ref].deleted
    await bot.settle(recheck=True)
    assert chat.messages[first.ref].edits == 1  # nothing changed since: no second edit
    await bot.stop()


async def test_a_restart_mirrors_nothing_twice_and_catches_up(site: SampleSite, tmp_path: Path) -> None:
    chat = RecordingChat(name="terminal")
    bot = make_bot(site, tmp_path, chat)
    await bot.start()
    await bot.settle()
    sent = chat.sends
    await bot.stop()
    post = next(iter(site.posts))
    site.add_comment(post, 0, "Late Larry", "<p>Posted while the bot was down.</p>")
    await bot.start()
    await bot.settle(recheck=True)
    assert chat.sends == sent + 1
    assert chat.visible()[-1].author == "Late Larry"
    await bot.stop()


async def test_chat_edits_and_deletes_of_a_relayed_reply_follow_to_the_site(site: SampleSite, tmp_path: Path) -> None:
    chat = RecordingChat(name="terminal")
    bot = make_bot(site, tmp_path, chat)
    await bot.start()
    await bot.settle()
    thread_ref = next(iter(chat.threads))
    await chat.human_says(ChatMessage("terminal", "main", thread_ref, "h-7", "Bo", "u7", "First version"))
    await bot.settle()
    [relayed] = [c for c in site.comments.values() if c.author_name == "Bo (via terminal)"]
    assert relayed.parent == 0
    await chat.human_says(ChatEdit("terminal", "h-7", "Second version"))
    await bot.settle()
    assert "Second version" in site.comments[relayed.id].content
    for text in ("First version", "Second version"):  # back and forth: each edit is relayed
        await chat.human_says(ChatEdit("terminal", "h-7", text))
        await bot.settle()
        assert text in site.comments[relayed.id].content
    await chat.human_says(ChatDelete("terminal", "h-7"))
    await bot.settle()
    assert site.comments[relayed.id].status == "trash"
    await bot.stop()


async def test_an_edit_and_a_deletion_that_overtake_their_relay_still_reach_the_site(
    site: SampleSite, tmp_path: Path
) -> None:
    chat = RecordingChat(name="terminal")
    bot = make_bot(site, tmp_path, chat)
    app = await bot.start()
    await bot.settle()
    thread_ref = next(iter(chat.threads))
    # Holding the site's lock keeps both relays from finishing while the edits and deletion arrive.
    async with app.site_locks["site"]:
        await chat.human_says(ChatMessage("terminal", "main", thread_ref, "h-8", "Cy", "u8", "Typo verison"))
        await chat.human_says(ChatEdit("terminal", "h-8", "Fixed version"))
        await chat.human_says(ChatMessage("terminal", "main", thread_ref, "h-9", "Di", "u9", "Oops, wrong thread"))
        await chat.human_says(ChatDelete("terminal", "h-9"))
    await bot.settle()
    [edited] = [c for c in site.comments.values() if c.author_name == "Cy (via terminal)"]
    assert "Fixed version" in edited.content and edited.status == "approved"
    [deleted] = [c for c in site.comments.values() if c.author_name == "Di (via terminal)"]
    assert deleted.status == "trash"
    await bot.stop()


async def test_a_flood_from_one_person_stops_at_the_relay_limit(site: SampleSite, tmp_path: Path) -> None:
    chat = RecordingChat(name="terminal")
    bot = make_bot(site, tmp_path, chat)
    bot.config = bot.config.model_copy(update={"relay": RelaySettings(per_user=3, window=60)})
    await bot.start()
    await bot.settle()
    thread_ref = next(iter(chat.threads))
    for n in range(8):
        await chat.human_says(ChatMessage("terminal", "main", thread_ref, f"flood-{n}", "Spam", "spammer", f"buy {n}"))
    await chat.human_says(ChatMessage("terminal", "main", thread_ref, "calm-1", "Calm", "calm", "A fair point"))
    await bot.settle()
    authors = [c.author_name for c in site.comments.values()]
    assert authors.count("Spam (via terminal)") == 3
    assert authors.count("Calm (via terminal)") == 1  # others are not held back by one person's flood
    await bot.stop()


async def test_a_chat_that_cannot_start_yet_is_retried_and_then_gets_everything(
    site: SampleSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_module, "CHAT_RETRY_BASE", 0.01)
    chat = RecordingChat(name="terminal", fail_starts=3)
    bot = make_bot(site, tmp_path, chat)
    app = await bot.start()  # does not raise: the bot keeps trying in the background
    assert "terminal" in app.delivery.connecting
    assert any("chat terminal: NOT CONNECTED since" in line for line in await app.status_lines(None))
    await bot.settle()  # the outbox waits for the chat, then delivers
    assert "terminal" not in app.delivery.connecting and chat.fail_starts == 0
    assert len(chat.visible()) == len([c for c in site.comments.values() if c.status == "approved"])
    assert chat.sends == len(chat.visible())
    await bot.stop()


async def test_transient_chat_failures_are_retried_without_duplicates(site: SampleSite, tmp_path: Path) -> None:
    chat = RecordingChat(name="terminal", fail_next=5)
    bot = make_bot(site, tmp_path, chat)
    await bot.start()
    await bot.settle()
    assert len(chat.visible()) == len([c for c in site.comments.values() if c.status == "approved"])
    assert chat.sends == len(chat.visible())
    await bot.stop()


async def test_thread_per_comment_makes_a_thread_per_top_level_comment(site: SampleSite, tmp_path: Path) -> None:
    chat = RecordingChat(name="terminal")
    bot = make_bot(site, tmp_path, chat, thread_per="comment")
    await bot.start()
    await bot.settle()
    top_level = [c for c in site.comments.values() if c.parent == 0 and c.status == "approved"]
    assert len(chat.threads) == len(top_level)
    for header in chat.threads.values():
        assert header.root_comment is not None and header.root_comment.parent_id == 0
    await bot.stop()
