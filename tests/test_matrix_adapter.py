"""The Matrix adapter on its own against the real Synapse: login and device, idempotent sends,
long comments in parts, catching up without replaying, invites, and a homeserver that is down."""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.chats.base import ChatError
from bot.chats.matrix import MatrixChat
from bot.config import MatrixChat as MatrixSettings
from bot.models import ChatEdit, ChatEvent, ChatMessage, CommandCall, Comment, MirroredComment, Page, ThreadHeader
from bot.store import MapRow, Store, ThreadKey
from tests.matrix_bot import eventually
from tests.synapse import MatrixAccount, MatrixUser, SynapseServer

PAGE = Page("site", 7, "https://news.example.org/ferry/", "Ferry timetable", "The ferry will run every 20 minutes.")


@dataclass
class Recorder:
    """Stands in for the core: keeps what the adapter reports."""

    events: list[ChatEvent] = field(default_factory=list)
    commands: list[CommandCall] = field(default_factory=list)

    async def on_chat_event(self, event: ChatEvent) -> None:
        self.events.append(event)

    async def on_command(self, call: CommandCall) -> None:
        self.commands.append(call)
        if call.respond is not None:
            await call.respond(f"ran {call.name}")


def comment(comment_id: int, html: str, author: str = "Maren", parent: int = 0) -> MirroredComment:
    made = Comment(
        "site",
        comment_id,
        PAGE.id,
        parent,
        author,
        datetime(2025, 3, 1, 12, comment_id % 60, tzinfo=UTC),
        html,
        f"{PAGE.url}#comment-{comment_id}",
    )
    return MirroredComment(made, PAGE.title)


@dataclass
class Setup:
    synapse: SynapseServer
    bot: MatrixAccount
    human: MatrixUser
    room_id: str
    store: Store
    adapters: list[MatrixChat] = field(default_factory=list)

    def settings(self, login: str = "token", **extra: Any) -> MatrixSettings:
        secret = {"password": self.bot.password} if login == "password" else {"access_token": self.bot.access_token}
        return MatrixSettings(
            homeserver=self.synapse.base_url, user_id=self.bot.user_id, rooms=[self.room_id], **secret, **extra
        )

    async def adapter(self, events: Recorder | None = None, login: str = "token", **kwargs: Any) -> MatrixChat:
        extra = {k: kwargs.pop(k) for k in list(kwargs) if k in MatrixSettings.model_fields}
        chat = MatrixChat(self.settings(login, **extra), self.store, **kwargs)
        await chat.start(events or Recorder())
        self.adapters.append(chat)
        return chat

    async def mirrored_thread(self, root: str, post_id: int = PAGE.id) -> None:
        """Records `root` as a mirrored thread, as the core does when it opened one."""
        await self.store.finish_job(0, thread=(ThreadKey("matrix", self.room_id, "site", post_id, 0), root))


@pytest.fixture
async def setup(synapse: SynapseServer, tmp_path: Path) -> AsyncIterator[Setup]:
    bot = synapse.register(synapse.unique("bot"))
    human = MatrixUser(synapse, synapse.register(synapse.unique("alice")))
    await human.set_name("Alice")
    room_id = await human.create_room("Adapter tests", invite=[bot.user_id])
    store = await Store.open(tmp_path / "bot.db")
    made = Setup(synapse, bot, human, room_id, store)
    yield made
    for chat in made.adapters:
        await chat.stop()
    await human.close()
    await store.close()


async def test_a_retry_after_a_restart_returns_the_same_events_on_the_same_device(setup: Setup) -> None:
    chat = await setup.adapter(login="password")
    device = chat.client.device_id
    assert await setup.store.get_chat_state("matrix", "device_id") == device != setup.bot.device_id
    root = await chat.open_thread(setup.room_id, ThreadHeader("site", PAGE), "open:k")
    first = await chat.send_comment(setup.room_id, root, comment(1, "<p>Hello</p>"), "post:1", resuming=False)
    await chat.stop()

    # A new process (same store): the stored token is used, the same events come back.
    again = await setup.adapter(login="password")
    assert again.client.device_id == device
    assert await again.open_thread(setup.room_id, ThreadHeader("site", PAGE), "open:k") == root
    assert await again.send_comment(setup.room_id, root, comment(1, "<p>Hello</p>"), "post:1", True) == first
    await again.stop()

    # Even after the token is lost, the password login keeps the device, and so the transaction ids.
    await setup.store.set_chat_state("matrix", "access_token", "syt_expired")
    third = await setup.adapter(login="password")
    assert third.client.device_id == device
    assert await third.send_comment(setup.room_id, root, comment(1, "<p>Hello</p>"), "post:1", True) == first
    thread = await setup.human.thread(setup.room_id, root)
    assert [e["event_id"] for e in thread] == first


async def test_long_comments_go_in_parts_that_stay_editable(setup: Setup) -> None:
    chat = await setup.adapter(max_part_bytes=2000)
    root = await chat.open_thread(setup.room_id, ThreadHeader("site", PAGE), "open:long")
    paragraphs = "".join(f"<p>Paragraph {i}: " + "the ferry was late again. " * 12 + "</p>" for i in range(12))
    refs = await chat.send_comment(setup.room_id, root, comment(2, paragraphs), "post:2", resuming=False)
    assert len(refs) >= 3
    thread = await setup.human.thread(setup.room_id, root)
    assert [e["event_id"] for e in thread] == refs
    text = "\n".join(e["content"]["body"] for e in thread)
    assert all(f"Paragraph {i}:" in text for i in range(12))
    assert thread[0]["content"]["body"].startswith(f"Maren (1/{len(refs)})")
    # each later part falls back to the part before it, so thread-less clients read them in order
    for before, after in itertools.pairwise(thread):
        assert after["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == before["event_id"]

    # Edited longer: the parts are replaced and one more is added.
    longer = paragraphs + "<p>Postscript: " + "and the bus too. " * 60 + "</p>"
    grown = await chat.edit_comment(setup.room_id, root, refs, comment(2, longer), "edit:2:a")
    assert grown[: len(refs)] == refs and len(grown) > len(refs)
    edits = await setup.human.relations(setup.room_id, refs[0], "m.replace")
    assert len(edits) == 1 and "Paragraph 0:" in edits[0]["content"]["m.new_content"]["body"]

    # Edited short: the first part says it all, the others are redacted.
    short = await chat.edit_comment(setup.room_id, root, grown, comment(2, "<p>Never mind.</p>"), "edit:2:b")
    assert short == refs[:1]
    for ref in grown[1:]:
        assert (await setup.human.event(setup.room_id, ref))["content"] == {}
    assert len(await setup.human.thread(setup.room_id, root)) == 1


async def test_first_start_replays_nothing_and_a_restart_catches_up(setup: Setup) -> None:
    room = setup.room_id
    await setup.human.say(room, "!help")  # before the bot ever ran: history, not to be answered
    events = Recorder()
    chat = await setup.adapter(events)
    root = await chat.open_thread(room, ThreadHeader("site", PAGE), "open:catchup")
    await setup.mirrored_thread(root)
    mirrored = await chat.send_comment(room, root, comment(3, "<p>First!</p>"), "post:3", resuming=False)

    # Live: a threaded reply, a thread message answering nobody, our own events ignored.
    reply = await setup.human.say(room, "Welcome back", thread=root, reply_to=mirrored[0])
    plain = await setup.human.say(room, "Hello thread", thread=root, latest=reply)
    await eventually(lambda: asyncio.sleep(0, len(events.events) >= 2), what="two messages")
    assert events.events == [
        ChatMessage("matrix", room, root, reply, "Alice", setup.human.user_id, "Welcome back", mirrored[0]),
        ChatMessage("matrix", room, root, plain, "Alice", setup.human.user_id, "Hello thread", None),
    ]
    assert events.commands == []

    # A client without threads answers a mirrored message directly: it counts for that thread.
    await setup.store.finish_job(0, add_map=[MapRow("matrix", mirrored[0], room, root, 0, "site", 3, "site")])
    direct = await setup.human.say(room, "Replying the old way", reply_to=mirrored[0])
    await eventually(lambda: asyncio.sleep(0, len(events.events) >= 3), what="the plain reply")
    assert events.events[2] == ChatMessage(
        "matrix", room, root, direct, "Alice", setup.human.user_id, "Replying the old way", mirrored[0]
    )
    await chat.stop()

    # While the bot is down: many messages (more than one sync's timeline), an edit, a redaction.
    await setup.store.finish_job(0, add_map=[MapRow("matrix", reply, room, root, 0, "site", 99, "chat")])
    said = [await setup.human.say(room, f"While away {i}", thread=root, latest=root) for i in range(60)]
    await setup.human.edit(room, reply, "Welcome back, bot")
    await setup.human.redact(room, plain)  # not relayed (no site comment): nothing to report
    await setup.human.redact(room, reply)
    later = Recorder()
    again = await setup.adapter(later)
    await eventually(lambda: asyncio.sleep(0, len(later.events) >= 62), what="the catch-up")
    assert again.gaps_filled == 1  # the sync's timeline was limited; the rest came from /messages
    messages = [e for e in later.events if isinstance(e, ChatMessage)]
    assert [m.message_ref for m in messages] == said  # in order, each once, nothing from before
    assert [type(e).__name__ for e in later.events[60:]] == ["ChatEdit", "ChatDelete"]
    assert later.events[60] == ChatEdit("matrix", reply, "Welcome back, bot")
    assert later.commands == []


async def test_commands_come_with_who_and_where_and_are_answered_there(setup: Setup) -> None:
    room = setup.room_id
    events = Recorder()
    chat = await setup.adapter(events, admins=[])
    root = await chat.open_thread(room, ThreadHeader("site", PAGE), "open:commands")
    asked = await setup.human.say(room, "!mirror add https://news.example.org/ferry/ relay=off", thread=root)
    await eventually(lambda: asyncio.sleep(0, events.commands), what="the command")
    [call] = events.commands
    assert (call.name, call.args) == ("mirror add", {"url": "https://news.example.org/ferry/", "relay": "off"})
    assert (call.chat, call.channel, call.thread_ref, call.user_name, call.user_id) == (
        "matrix",
        room,
        root,
        "Alice",
        setup.human.user_id,
    )
    assert call.is_admin  # she made the room (room version 12: creators have every power)

    async def answered() -> dict[str, Any] | None:
        for event in await setup.human.thread(room, root):
            if event["sender"] == setup.bot.user_id and event["content"]["body"] == "ran mirror add":
                return event
        return None

    answer = await eventually(answered, what="the answer")
    assert answer["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == asked
    assert answer["content"]["msgtype"] == "m.notice" and answer["content"]["m.mentions"] == {}


async def test_invites_are_accepted_from_admins_only(setup: Setup) -> None:
    synapse = setup.synapse
    admin = MatrixUser(synapse, synapse.register(synapse.unique("boss")))
    stranger = MatrixUser(synapse, synapse.register(synapse.unique("stranger")))
    chat = await setup.adapter(admins=[admin.user_id])
    from_stranger = await stranger.create_room("Spam", invite=[setup.bot.user_id])
    from_admin = await admin.create_room("Mirrors", invite=[setup.bot.user_id])

    async def membership(room: str, user: MatrixUser) -> str | None:
        members = await user.state(room, "m.room.member", setup.bot.user_id)
        return str(members.get("membership"))

    await eventually(lambda: _is(membership(from_admin, admin), "join"), what="joining the admin's room")
    await eventually(lambda: _is(membership(from_stranger, stranger), "leave"), what="declining the stranger")
    assert chat.connected
    await admin.close()
    await stranger.close()


async def _is(value: Any, wanted: str) -> bool:
    return await value == wanted


async def test_a_homeserver_that_is_down_is_retried_not_fatal(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here
    store = await Store.open(tmp_path / "bot.db")
    settings = MatrixSettings(
        homeserver=f"http://127.0.0.1:{port}", user_id="@bot:localhost", access_token="x", request_timeout=2
    )
    chat = MatrixChat(settings, store)
    await chat.start(Recorder())  # returns: the rest of the bot runs, Matrix catches up later
    health = await chat.health()
    assert health is not None and "cannot reach the homeserver" in health
    with pytest.raises(ChatError) as caught:
        await chat.open_thread("!room:localhost", ThreadHeader("site", PAGE), "open:down")
    assert caught.value.transient
    await chat.stop()
    await store.close()


async def test_a_refused_token_stops_the_start(synapse: SynapseServer, tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.db")
    settings = MatrixSettings(homeserver=synapse.base_url, user_id="@nobody:localhost", access_token="syt_wrong")
    with pytest.raises(ChatError, match="refused") as caught:
        await MatrixChat(settings, store).start(Recorder())
    assert not caught.value.transient
    await store.close()


async def test_past_the_wait_cap_a_rate_limited_delivery_is_handed_back_to_the_outbox(
    synapse: SynapseServer, tmp_path: Path
) -> None:
    bot = synapse.register(synapse.unique("slowbot"), unlimited=False)  # Synapse's default rc_message
    owner = MatrixUser(synapse, synapse.register(synapse.unique("owner")))
    room = await owner.create_room("Slow", invite=[bot.user_id])
    store = await Store.open(tmp_path / "bot.db")
    settings = MatrixSettings(
        homeserver=synapse.base_url, user_id=bot.user_id, access_token=bot.access_token, rooms=[room],
        rate_limit_max_wait=0,
    )  # fmt: skip
    chat = MatrixChat(settings, store)
    await chat.start(Recorder())
    root = await chat.open_thread(room, ThreadHeader("site", PAGE), "open:slow")
    with pytest.raises(ChatError) as caught:
        for i in range(20):
            await chat.send_comment(room, root, comment(i + 10, f"<p>Quick {i}</p>"), f"post:{i}", resuming=False)
    assert caught.value.transient and caught.value.retry_after is not None and 0 < caught.value.retry_after <= 10
    assert chat.rate_limited == 1
    health = await chat.health()
    assert health is not None and "rate limited by the homeserver" in health
    await chat.stop()
    await owner.close()
    await store.close()
