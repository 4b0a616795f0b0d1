"""Catching up after downtime: what members wrote in mirrored threads while the bot was stopped
or its gateway session was lost (a session that is not RESUMEd replays nothing).

Every mirrored thread has a mark in the store (`chat_state` "seen:<thread id>"): the newest of its
messages that was handed to the core. Marks advance as the incoming queue is drained and are
written every few seconds. On each READY (start, and every reconnect that was not a RESUME) the
threads with news, those whose `last_message_id` is past their mark, are read from the mark on
and each message goes through the live path (`DiscordChat.message_seen`); relay jobs are keyed by
message id, so a message seen both live and here is relayed once.

From READY until a thread is caught up its mark is held (kept in memory, not written): live
messages newer than a gap must not move the stored mark past messages not yet read.

Not caught up: edits and deletions of messages that were relayed before the downtime (noticing
them would cost a history request per thread on every reconnect, and an absent message may be
one the bot cannot read rather than a deleted one); threads archived longer ago than
ARCHIVED_WINDOW; more than MAX_PAGES pages of news in one thread (the oldest are relayed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
import discord

from bot.store import Store

log = logging.getLogger(__name__)

ARCHIVED_WINDOW = timedelta(days=7)  # archived threads older than this are not read
MAX_PAGES = 5  # of 100 messages, per thread and catch-up
MAX_ARCHIVED = 500  # archived threads listed per channel, newest first
FLUSH_EVERY = 5.0  # seconds between writes of the marks
NETWORK_ERRORS = (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError)
Observe = Callable[[discord.Message, str], bool]


@dataclass(frozen=True)
class Mark:
    """Queued behind a thread's message: when the drain reaches it, everything in the thread up
    to `message_id` was handed to the core. A catch-up's last one carries its gateway `session`:
    the thread is then in step, and its mark may be written again."""

    thread_id: int
    message_id: int
    session: int | None = None


class CatchUp:
    def __init__(self, chat: str, store: Store) -> None:
        self.chat = chat
        self.store = store
        self.mirrored: dict[int, int] = {}  # thread id -> parent channel id
        self.session = 0
        self.done = asyncio.Event()  # set when the current session's catch-up has queued everything
        self.failed: dict[int, str] = {}  # thread id -> why it could not be caught up
        self._marks: dict[int, int] = {}  # newest message handed to the core, per thread
        self._saved: dict[int, int] = {}  # what the store has
        self._synced: set[int] = set()  # threads whose marks may be written in this session
        self._names: dict[int, str] = {}  # user id -> name in the server, during a catch-up

    # -- marks -----------------------------------------------------------------------------

    def new_session(self) -> int:
        """A READY: every thread may have missed messages until its catch-up is done."""
        self.session += 1
        self._synced.clear()
        self.done.clear()
        return self.session

    def note(self, mark: Mark) -> None:
        if mark.session is not None and mark.session != self.session:
            return  # from the catch-up of an earlier session
        if mark.thread_id not in self.mirrored and mark.session is None:
            return
        self._marks[mark.thread_id] = max(self._marks.get(mark.thread_id, 0), mark.message_id)
        if mark.session is not None:
            self._synced.add(mark.thread_id)

    async def saved(self, thread_id: int) -> int | None:
        if thread_id not in self._saved:
            raw = await self.store.get_chat_state(self.chat, f"seen:{thread_id}")
            if raw is None:
                return None
            self._saved[thread_id] = int(raw)
        return self._saved[thread_id]

    async def opened(self, thread_id: int, channel_id: int) -> None:
        """A thread the bot just made: nothing in it was missed, and all its messages come after its id."""
        self.mirrored[thread_id] = channel_id
        self._synced.add(thread_id)
        if await self.saved(thread_id) is None:
            await self._write(thread_id, thread_id)

    async def flush(self) -> None:
        for thread_id in list(self._synced):
            value = self._marks.get(thread_id, 0)
            if value > self._saved.get(thread_id, 0):
                await self._write(thread_id, value)

    async def _write(self, thread_id: int, value: int) -> None:
        await self.store.set_chat_state(self.chat, f"seen:{thread_id}", str(value))
        self._saved[thread_id] = value

    async def flush_forever(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY)
            try:
                await self.flush()
            except Exception as exc:  # the store is busy or gone: the next flush writes the same
                log.warning("could not save the Discord threads' read marks: %r", exc)

    # -- the catch-up ----------------------------------------------------------------------

    async def run(
        self,
        client: discord.Client,
        observe: Observe,
        enqueue: Callable[[Mark], None],
        relay: bool,
    ) -> None:
        """Read what each mirrored thread got since its mark. `observe` feeds a message, with its
        author's name in the server, to the live path (True when it is a member's message);
        `relay` is False when nothing can be relayed anyway (no Message Content intent)."""
        session = self.session
        self.failed.clear()
        self._names.clear()
        try:
            for key, ref in await self.store.threads():
                if key.chat == self.chat and ref.isdigit() and key.channel.isdigit():
                    self.mirrored.setdefault(int(ref), int(key.channel))
            relaying = await self._relaying_channels() if relay else set()
            threads = await self._open_threads(client, relaying)
            read = messages = 0
            for thread_id, channel_id in list(self.mirrored.items()):
                found = await self._thread(thread_id, threads.get(thread_id), channel_id in relaying, observe)
                if found is None:
                    continue  # left held: tried again at the next READY
                newest, count, fetched = found
                enqueue(Mark(thread_id, newest, session))
                read += fetched
                messages += count
            log.info(
                "caught up %d messages in %d threads (%d mirrored threads, %d could not be read)",
                messages,
                read,
                len(self.mirrored),
                len(self.failed),
            )
        finally:
            if session == self.session:  # a cancelled catch-up of an earlier session says nothing
                self.done.set()

    async def _relaying_channels(self) -> set[int]:
        """Channels that an active mirror relays from: other threads have nothing to catch up."""
        return {
            int(t.channel)
            for m in await self.store.mirrors()
            if not m.paused and m.relay != "off"
            for t in m.targets
            if t.chat == self.chat and t.channel.isdigit()
        }

    async def _open_threads(self, client: discord.Client, relaying: set[int]) -> dict[int, discord.Thread]:
        """The mirrored threads that can have news: the active ones (in the cache since READY) and,
        listed once per channel, those archived within ARCHIVED_WINDOW."""
        found: dict[int, discord.Thread] = {}
        missing: defaultdict[int, set[int]] = defaultdict(set)
        for thread_id, channel_id in self.mirrored.items():
            cached = client.get_channel(thread_id)
            if isinstance(cached, discord.Thread):
                found[thread_id] = cached
            elif channel_id in relaying:
                missing[channel_id].add(thread_id)
        for channel_id, wanted in missing.items():
            found.update(await self._archived(client, channel_id, wanted))
        return found

    async def _archived(self, client: discord.Client, channel_id: int, wanted: set[int]) -> dict[int, discord.Thread]:
        channel = client.get_channel(channel_id)
        if not isinstance(channel, discord.TextChannel | discord.ForumChannel):
            return {}
        cutoff = discord.utils.utcnow() - ARCHIVED_WINDOW
        found: dict[int, discord.Thread] = {}
        try:
            async for thread in channel.archived_threads(limit=MAX_ARCHIVED):
                if thread.archive_timestamp < cutoff or len(found) == len(wanted):
                    break
                if thread.id in wanted:
                    found[thread.id] = thread
        except NETWORK_ERRORS as exc:
            log.warning("could not list the archived threads of channel %s to catch up: %r", channel_id, exc)
        return found

    async def _thread(
        self,
        thread_id: int,
        thread: discord.Thread | None,
        relaying: bool,
        observe: Observe,
    ) -> tuple[int, int, bool] | None:
        """(newest message id, members' messages fed, whether history was read), or None when
        the thread could not be read."""
        saved = await self.saved(thread_id)
        last = thread.last_message_id if thread is not None else None
        if thread is None or last is None or saved is None or last <= saved or not relaying:
            # No news, closed long ago, or nothing relayed from it; without a mark (the first
            # start with this thread) history is not replayed: the mark starts at its newest message.
            return max(saved or 0, last or 0), 0, False
        if not _can_read(thread):
            self.failed[thread_id] = "no Read Message History permission"
            log.warning("cannot catch up on thread %s: the bot lacks Read Message History there", thread_id)
            return None
        newest, count, fetched = saved, 0, 0
        since = discord.Object(id=saved)
        try:
            async for message in thread.history(after=since, oldest_first=True, limit=MAX_PAGES * 100):
                count += observe(message, await self._author_name(thread.guild, message))
                newest, fetched = message.id, fetched + 1
        except NETWORK_ERRORS as exc:
            self.failed[thread_id] = repr(exc)
            log.warning("could not catch up on thread %s: %r; trying again at the next reconnect", thread_id, exc)
            return None
        if fetched == MAX_PAGES * 100 and newest < last:
            log.warning(
                "thread %s got more than %d messages while the bot was away; the newer ones are not relayed",
                thread_id,
                fetched,
            )
        return max(newest, last), count, True

    async def _author_name(self, guild: discord.Guild, message: discord.Message) -> str:
        """The name the live path would use: the author's server nickname. A history message has
        no member data (a gateway MESSAGE_CREATE has), so the member is fetched, once per author."""
        author = message.author
        if (
            isinstance(author, discord.Member)
            or message.webhook_id is not None
            or author.bot
            or not _relayable(message)
        ):
            return author.display_name
        if author.id not in self._names:
            member = guild.get_member(author.id)
            if member is None:
                with contextlib.suppress(discord.NotFound, discord.Forbidden):  # left the server
                    member = await guild.fetch_member(author.id)
            self._names[author.id] = (member or author).display_name
        return self._names[author.id]


def _relayable(message: discord.Message) -> bool:
    return message.type in (discord.MessageType.default, discord.MessageType.reply)


def _can_read(thread: discord.Thread) -> bool:
    """Without Read Message History Discord answers an empty history, which would look like no news."""
    me, parent = thread.guild.me, thread.parent
    if me is None or parent is None:
        return True  # cannot tell: try
    return thread.permissions_for(me).read_message_history
