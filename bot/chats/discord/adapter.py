"""The Discord chat: site comments in threads and forum posts, posted through a channel webhook
under each author's name; members' replies, edits and deletions go back to the site.

Refs: a thread's ref is its channel id; a message's ref is its message id (one per part).

Idempotency. Bot messages carry a nonce derived from the outbox key (`enforce_nonce`), which
Discord honours for a few minutes. Webhook messages take no nonce, so before a part goes out
the adapter records an in-flight marker in the store (`chat_state`, one per thread: a thread's
deliveries run one at a time, in order). A retry of the same key reuses the parts recorded
there and looks for an unrecorded part among the thread's messages since the marker was made
(same text, same author) before sending it again. Opening a thread keeps its own marker.

Downtime: on every READY the adapter reads what mirrored threads got while it was away (see
`catchup.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
import traceback
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

import aiohttp
import discord
import discord.gateway
import discord.http
import yarl
from discord import app_commands

from bot.chats.base import ChatError, ChatEvents
from bot.chats.discord.catchup import CatchUp, Mark
from bot.chats.discord.commands import Tree, build_tree
from bot.chats.discord.render import (
    MAX_MESSAGE,
    comment_parts,
    nonce,
    snowflake_at,
    starter_text,
    thread_name,
    webhook_username,
)
from bot.config import DiscordChat as DiscordSettings
from bot.convert import split_message
from bot.logs import RedactSecrets
from bot.models import ChatDelete, ChatEdit, ChatEvent, ChatMessage, CommandCall, MirroredComment, ThreadHeader
from bot.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")

WEBHOOK_NAME = "Thread Mirror"
NO_MENTIONS = discord.AllowedMentions.none()
FALLBACK_RECHECK = 600.0  # seconds before trying again to make a webhook where we lacked the permission
CLOCK_SLACK = 120.0  # how far before a marker's time its messages are looked for (clock skew)
OPEN_THREAD_RECHECK = 60.0
MAX_RATELIMIT_WAIT = 60.0  # longer waits become a ChatError with retry_after: the outbox reschedules
REQUIRED = (
    "View Channels, Send Messages, Create Public Threads, Send Messages in Threads, "
    "Manage Threads, Manage Webhooks and Read Message History"
)
# Discord JSON error codes
UNKNOWN_MESSAGE = 10008
UNKNOWN_WEBHOOK = 10015
CANNOT_EDIT_OTHERS = 50005
ARCHIVED_THREAD = 50083
THREAD_EXISTS = 160004


def _snowflake(ref: str, what: str) -> int:
    try:
        return int(ref)
    except ValueError:
        raise ChatError(f"{what} {ref!r} is not a Discord id (a number)", transient=False) from None


def _retry_after(exc: discord.HTTPException) -> float | None:
    headers = exc.response.headers if exc.response is not None else {}
    for name in ("X-RateLimit-Reset-After", "Retry-After"):
        with contextlib.suppress(KeyError, TypeError, ValueError):
            return float(headers[name])
    return None


def http_error(exc: discord.HTTPException, doing: str) -> ChatError:
    """A Discord HTTP error as a ChatError: what failed, why, and whether retrying may help."""
    detail = f"{exc.text or exc.status} (HTTP {exc.status}, code {exc.code})"
    if exc.status == 429:
        return ChatError(f"rate limited while trying to {doing}", transient=True, retry_after=_retry_after(exc))
    if exc.status >= 500:
        return ChatError(f"Discord failed to {doing}: {detail}", transient=True)
    if exc.status == 403:
        # Kept for a retry: an admin can grant the permission and the delivery then goes through.
        return ChatError(
            f"Discord refused to {doing}: {detail}; the bot needs {REQUIRED} in that channel",
            transient=True,
            retry_after=300.0,
        )
    if exc.status == 404:
        return ChatError(f"could not {doing}: not found on Discord, {detail}", transient=False)
    return ChatError(f"Discord rejected the request to {doing}: {detail}", transient=False)


def redact(secret: str) -> None:
    """Hide a secret learned at run time (a webhook token) in the log, like the config's secrets."""
    for handler in logging.getLogger().handlers:
        for found in handler.filters:
            if isinstance(found, RedactSecrets) and secret not in found.secrets:
                found.secrets = sorted([*found.secrets, secret], key=len, reverse=True)


class _Client(discord.Client):
    def __init__(self, adapter: DiscordChat, **options: Any) -> None:
        super().__init__(**options)
        self.adapter = adapter
        self.tree: Tree = build_tree(self, adapter, adapter.settings.guilds)

    async def on_connect(self) -> None:
        self.adapter.session_started()  # dispatched on READY, before the guilds (and their messages) arrive

    async def on_ready(self) -> None:
        self.adapter.disconnected_since = None
        self.adapter.start_catch_up()

    async def on_resumed(self) -> None:
        self.adapter.disconnected_since = None

    async def on_disconnect(self) -> None:
        if self.adapter.disconnected_since is None:
            self.adapter.disconnected_since = time.time()

    async def on_message(self, message: discord.Message) -> None:
        self.adapter.message_seen(message)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        self.adapter.edit_seen(payload)

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        self.adapter.queue_event(ChatDelete(self.adapter.name, str(payload.message_id)))

    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        for message_id in sorted(payload.message_ids):
            self.adapter.queue_event(ChatDelete(self.adapter.name, str(message_id)))

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        self.adapter.record_error(f"in {event_method}")


class DiscordChat:
    label = "Discord"
    max_message_length = MAX_MESSAGE

    def __init__(
        self,
        settings: DiscordSettings,
        store: Store,
        name: str = "discord",
        *,
        guild_ready_timeout: float = 2.0,
    ) -> None:
        self.name = name
        self.settings = settings
        self.store = store
        self.guild_ready_timeout = guild_ready_timeout
        self.events: ChatEvents | None = None
        self.client: _Client | None = None
        self.errors: list[str] = []  # what went wrong outside any delivery (discord.py would only log it)
        self.disconnected_since: float | None = None
        self.content_intent = True
        self.problems: dict[str, str] = {}  # lasting conditions for health(), by topic
        self._runner: asyncio.Task[None] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._incoming: asyncio.Queue[ChatEvent | Mark] = asyncio.Queue()
        self.catch_up = CatchUp(name, store)
        self._catch_up_task: asyncio.Task[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._webhooks: dict[int, discord.Webhook] = {}
        self._webhook_locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._no_webhooks: dict[int, float] = {}  # channel id -> when to try making a webhook again
        self._open_threads: dict[int, float] = {}  # thread id -> when it was last seen unarchived

    # -- life cycle ----------------------------------------------------------------------

    def _intents(self) -> discord.Intents:
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = True
        intents.message_content = self.content_intent
        return intents

    async def start(self, events: ChatEvents) -> None:
        self.events = events
        self.catch_up = CatchUp(self.name, self.store)  # marks are read anew from the store of this run
        self.content_intent = True
        self.problems.clear()
        if self.settings.api_base:
            discord.http.Route.BASE = self.settings.api_base
        try:
            await self._connect()
        except discord.PrivilegedIntentsRequired:
            log.error(
                "Discord refused the Message Content intent: enable it for the bot in the Developer Portal; "
                "until then chat replies cannot be relayed"
            )
            self.content_intent = False
            await self._connect()
        if not self.content_intent:
            self.problems["intent"] = (
                "the Message Content intent is not enabled (Developer Portal → Bot → Privileged Gateway "
                "Intents): comments are mirrored, but replies in Discord cannot be relayed to the site"
            )
        await self._sync_commands()
        self._worker = asyncio.create_task(self._drain_incoming(), name="discord-incoming")
        self._flusher = asyncio.create_task(self.catch_up.flush_forever(), name="discord-marks")

    async def _connect(self) -> None:
        self._webhooks.clear()
        client = _Client(
            self,
            intents=self._intents(),
            guild_ready_timeout=self.guild_ready_timeout,
            allowed_mentions=NO_MENTIONS,
            chunk_guilds_at_startup=False,
            max_ratelimit_timeout=MAX_RATELIMIT_WAIT,
        )
        self.client = client
        token = self.settings.token.get_secret_value()
        try:
            await client.login(token)
            if self.settings.gateway_url:
                discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.settings.gateway_url)
            elif self.settings.api_base:
                _, url, _ = await client.http.get_bot_gateway()
                discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
        except discord.LoginFailure:
            await client.close()
            raise ChatError(
                "Discord refused the bot token (chats.discord.token): copy it again from the Developer Portal",
                transient=False,
            ) from None
        except (discord.HTTPException, discord.GatewayNotFound, aiohttp.ClientError, OSError) as exc:
            await client.close()
            raise ChatError(f"cannot reach Discord to log in: {exc}", transient=True) from exc
        self._runner = runner = asyncio.create_task(client.connect(reconnect=True), name="discord-gateway")
        ready = asyncio.create_task(client.wait_until_ready())
        done, _ = await asyncio.wait(
            {ready, runner}, timeout=self.settings.connect_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if ready in done:
            runner.add_done_callback(self._runner_ended)
            return
        ready.cancel()
        if runner in done:
            failure = runner.exception()
            await client.close()
            if isinstance(failure, discord.PrivilegedIntentsRequired):
                raise failure
            raise ChatError(f"the Discord gateway connection failed: {failure!r}", transient=True)
        await client.close()
        runner.cancel()
        raise ChatError(f"no READY from Discord's gateway within {self.settings.connect_timeout:.0f}s", transient=True)

    def _runner_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self.client is None or self.client.is_closed():
            return
        exc = task.exception()
        self.problems["gateway"] = f"the gateway connection ended: {exc!r}; restart the bot"
        self.record_error(f"gateway connection ended: {exc!r}", with_traceback=False)

    async def _sync_commands(self) -> None:
        assert self.client is not None
        tree = self.client.tree
        targets: list[discord.Object | None] = [discord.Object(id=g) for g in self.settings.guilds] or [None]
        for guild in targets:
            try:
                await tree.sync(guild=guild)
            except (discord.HTTPException, app_commands.CommandSyncFailure) as exc:
                where = f"guild {guild.id}" if guild else "Discord"
                self.problems[f"commands:{where}"] = (
                    f"slash commands could not be registered in {where}: {exc}; invite the bot with the "
                    "applications.commands scope"
                )
                log.error("%s", self.problems[f"commands:{where}"])
            else:
                self.problems.pop(f"commands:{guild.id if guild else 'Discord'}", None)

    async def stop(self) -> None:
        for task in (self._catch_up_task, self._worker, self._flusher):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._catch_up_task = self._worker = self._flusher = None
        try:
            await self.catch_up.flush()
        except Exception as exc:  # stopping goes on; the next catch-up reads a little more
            log.warning("could not save the Discord threads' read marks: %r", exc)
        if self.client is not None:
            await self.client.close()
        if self._runner is not None:
            await asyncio.gather(self._runner, return_exceptions=True)
            self._runner = None

    @property
    def connected(self) -> bool:
        """Logged in, with a live gateway connection (for /healthz)."""
        client = self.client
        live = client is not None and not client.is_closed()
        return live and self.disconnected_since is None and "gateway" not in self.problems

    async def health(self) -> str | None:
        problems = list(self.problems.values())
        if self.client is None:
            problems.insert(0, "not connected")
        elif self.disconnected_since is not None:
            problems.insert(0, f"disconnected from the gateway for {time.time() - self.disconnected_since:.0f}s")
        if self.catch_up.failed:
            problems.append(
                f"{len(self.catch_up.failed)} thread(s) could not be read after reconnecting "
                f"({next(iter(self.catch_up.failed.values()))}): replies posted there meanwhile may be missing"
            )
        for channel_id in self._no_webhooks:  # until a webhook could be made there
            problems.append(
                f"no Manage Webhooks permission in <#{channel_id}>: comments there are posted by the bot, "
                "with the author's name in bold"
            )
        return "; ".join(problems) or None

    def record_error(self, what: str, *, with_traceback: bool = True) -> None:
        detail = traceback.format_exc() if with_traceback else ""
        log.error("Discord: %s%s", what, f"\n{detail}" if detail.strip() != "NoneType: None" else "")
        self.errors.append(f"{what}\n{detail}".strip())

    # -- helpers -------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _guard(self, doing: str) -> AsyncIterator[discord.Client]:
        """Run a request, turning discord.py's and aiohttp's errors into ChatErrors."""
        client = self.client
        if client is None or client.is_closed():
            raise ChatError(f"not connected to Discord (to {doing})", transient=True, retry_after=5.0)
        try:
            yield client
        except ChatError:
            raise
        except discord.RateLimited as exc:
            raise ChatError(
                f"rate limited while trying to {doing}", transient=True, retry_after=exc.retry_after
            ) from exc
        except discord.HTTPException as exc:
            raise http_error(exc, doing) from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise ChatError(f"could not reach Discord to {doing}: {exc!r}", transient=True) from exc

    async def _channel(self, client: discord.Client, channel_id: int) -> Any:
        channel = client.get_channel(channel_id)
        if channel is None:
            channel = await client.fetch_channel(channel_id)
        return channel

    async def _state(self, key: str) -> dict[str, Any] | None:
        raw = await self.store.get_chat_state(self.name, key)
        return json.loads(raw) if raw else None

    async def _save_state(self, key: str, value: dict[str, Any]) -> None:
        await self.store.set_chat_state(self.name, key, json.dumps(value, separators=(",", ":")))

    async def _in_thread(self, client: discord.Client, thread_id: int, op: Callable[[], Awaitable[T]]) -> T:
        """Run `op` on a thread, unarchiving it first when it is (or turns out to be) archived."""
        await self._ensure_open(client, thread_id)
        try:
            return await op()
        except discord.HTTPException as exc:
            if exc.code != ARCHIVED_THREAD:
                raise
        self._open_threads.pop(thread_id, None)
        await self._ensure_open(client, thread_id)
        return await op()

    async def _ensure_open(self, client: discord.Client, thread_id: int) -> None:
        cached = client.get_channel(thread_id)
        if isinstance(cached, discord.Thread) and not cached.archived:
            return
        if time.monotonic() - self._open_threads.get(thread_id, -1e9) < OPEN_THREAD_RECHECK:
            return
        thread = cached if isinstance(cached, discord.Thread) else await client.fetch_channel(thread_id)
        if not isinstance(thread, discord.Thread):
            raise ChatError(f"channel {thread_id} is not a thread", transient=False)
        if thread.archived:
            log.info("unarchiving thread %s (%s) for a new delivery", thread.id, thread.name)
            await thread.edit(archived=False)
        self._open_threads[thread_id] = time.monotonic()

    # -- webhooks --------------------------------------------------------------------------

    async def _webhook(self, client: discord.Client, channel_id: int) -> discord.Webhook | None:
        """The channel's webhook (reused or made, and remembered), or None where the bot may not
        manage webhooks (it then posts as itself, and health() says so)."""
        if channel_id in self._webhooks:
            return self._webhooks[channel_id]
        if self._no_webhooks.get(channel_id, 0.0) > time.time():
            return None
        async with self._webhook_locks[channel_id]:
            if channel_id in self._webhooks:
                return self._webhooks[channel_id]
            saved = await self.store.get_chat_state(self.name, f"webhook:{channel_id}")
            if saved:
                webhook_id, _, token = saved.partition(":")
                hook = discord.Webhook.partial(int(webhook_id), token, client=client)
            else:
                made = await self._make_webhook(client, channel_id)
                if made is None:
                    return None
                hook = made
                await self.store.set_chat_state(self.name, f"webhook:{channel_id}", f"{hook.id}:{hook.token}")
            self._no_webhooks.pop(channel_id, None)
            self._webhooks[channel_id] = hook
            if hook.token:
                redact(hook.token)  # discord.py logs webhook URLs (token included) at debug level
            return hook

    async def _make_webhook(self, client: discord.Client, channel_id: int) -> discord.Webhook | None:
        channel = await self._channel(client, channel_id)
        if not isinstance(channel, discord.TextChannel | discord.ForumChannel):
            raise ChatError(f"channel {channel_id} is neither a text channel nor a forum", transient=False)
        me = channel.guild.me
        if me is not None and not channel.permissions_for(me).manage_webhooks:
            self._without_webhooks(channel_id)
            return None
        me_id = client.user.id if client.user is not None else None
        try:
            mine = [
                w
                for w in await channel.webhooks()
                if w.token and w.name == WEBHOOK_NAME and w.user is not None and w.user.id == me_id
            ]
            if mine:
                return mine[0]
            log.info("making a webhook in channel %s (%s)", channel.id, channel.name)
            return await channel.create_webhook(
                name=WEBHOOK_NAME, reason="Thread Mirror posts site comments as their authors"
            )
        except discord.Forbidden:
            self._without_webhooks(channel_id)
            return None

    def _without_webhooks(self, channel_id: int) -> None:
        if channel_id not in self._no_webhooks:
            log.warning("no Manage Webhooks permission in channel %s: posting comments as the bot instead", channel_id)
        self._no_webhooks[channel_id] = time.time() + FALLBACK_RECHECK

    async def _forget_webhook(self, channel_id: int) -> None:
        self._webhooks.pop(channel_id, None)
        await self.store.set_chat_state(self.name, f"webhook:{channel_id}", None)

    # -- ChatAdapter: threads -------------------------------------------------------------

    async def open_thread(self, channel: str, header: ThreadHeader, key: str) -> str:
        channel_id = _snowflake(channel, "channel")
        state_key = "open:" + hashlib.sha256(key.encode()).hexdigest()[:32]
        async with self._guard(f"open a thread in channel {channel}") as client:
            state = await self._state(state_key)
            if state and state.get("thread"):
                return str(state["thread"])
            resuming = state is not None
            if state is None:
                state = {"after": snowflake_at(time.time() - CLOCK_SLACK)}
                await self._save_state(state_key, state)
            target = await self._channel(client, channel_id)
            name, text = thread_name(header), starter_text(header)
            if isinstance(target, discord.ForumChannel):
                thread_id = await self._find_forum_post(target, name, state["after"]) if resuming else None
                if thread_id is None:
                    made = await target.create_thread(name=name, content=text, allowed_mentions=NO_MENTIONS)
                    thread_id = made.thread.id
            elif isinstance(target, discord.TextChannel):
                thread_id = await self._thread_from_starter(client, target, state_key, state, text, name, key, resuming)
            else:
                raise ChatError(f"channel {channel} is neither a text channel nor a forum", transient=False)
            await self.catch_up.opened(thread_id, channel_id)
            state["thread"] = str(thread_id)
            await self._save_state(state_key, state)
            log.info("opened thread %s (%s) in channel %s", thread_id, name, channel)
            return str(thread_id)

    async def _thread_from_starter(
        self,
        client: discord.Client,
        channel: discord.TextChannel,
        state_key: str,
        state: dict[str, Any],
        text: str,
        name: str,
        key: str,
        resuming: bool,
    ) -> int:
        starter = state.get("starter")
        if starter is None and resuming:
            starter = await self._find_sent(client, channel, state["after"], text, None, set())
        if starter is None:
            sent = await channel.send(text, nonce=nonce(key, 0), allowed_mentions=NO_MENTIONS)
            starter = sent.id
            state["starter"] = str(starter)
            await self._save_state(state_key, state)
        try:
            thread = await channel.get_partial_message(int(starter)).create_thread(name=name)
        except discord.HTTPException as exc:
            if exc.code != THREAD_EXISTS:
                raise
            return int(starter)  # made before: a thread started from a message has the message's id
        return thread.id

    async def _find_forum_post(self, forum: discord.ForumChannel, name: str, after: int) -> int | None:
        me = forum.guild.me
        for thread in await forum.guild.active_threads():
            if (
                thread.parent_id == forum.id
                and thread.name == name
                and thread.id > after
                and me
                and thread.owner_id == me.id
            ):
                return thread.id
        return None

    # -- ChatAdapter: messages ------------------------------------------------------------

    def _render(
        self, client: discord.Client, channel_id: int, thread_ref: str, message: MirroredComment, as_bot: bool
    ) -> list[str]:
        channel = client.get_channel(channel_id)
        guild_id = channel.guild.id if isinstance(channel, discord.abc.GuildChannel) else None
        return comment_parts(message, guild_id, thread_ref, name_prefix=as_bot)

    async def send_comment(
        self, channel: str, thread_ref: str, message: MirroredComment, key: str, resuming: bool
    ) -> list[str]:
        channel_id, thread_id = _snowflake(channel, "channel"), _snowflake(thread_ref, "thread")
        async with self._guard(f"post comment {message.comment.id} in thread {thread_ref}") as client:
            target = await self._channel(client, channel_id)  # cached, or fetched once (guild id for links)
            self._check_history(target)
            hook = await self._webhook(client, channel_id)
            parts = self._render(client, channel_id, thread_ref, message, as_bot=hook is None)
            sent = await self._send_parts(client, channel_id, thread_id, parts, message, key, resuming, set(), set())
            return [str(sent[i]) for i in range(len(parts))]

    def _check_history(self, channel: Any) -> None:
        """Without Read Message History Discord answers an empty history: a retry after a crash
        could not see what already arrived (and might post it twice). Say so in health()."""
        if not isinstance(channel, discord.TextChannel | discord.ForumChannel) or channel.guild.me is None:
            return
        topic = f"history:{channel.id}"
        if channel.permissions_for(channel.guild.me).read_message_history:
            self.problems.pop(topic, None)
        elif topic not in self.problems:
            self.problems[topic] = (
                f"no Read Message History permission in <#{channel.id}>: after a crash a comment there "
                "could be posted twice"
            )
            log.warning("%s", self.problems[topic])

    async def _send_parts(
        self,
        client: discord.Client,
        channel_id: int,
        thread_id: int,
        parts: list[str],
        message: MirroredComment,
        key: str,
        resuming: bool,
        skip: set[int],
        taken: set[int],
    ) -> dict[int, int]:
        """Send the parts not in `skip`, at most once each for this key; returns their ids by index."""
        marker_key = f"sending:{thread_id}"
        marker = await self._state(marker_key)
        earlier_attempt = marker is not None and marker.get("key") == key
        if marker is None or not earlier_attempt:
            marker = {"key": key, "after": snowflake_at(time.time() - CLOCK_SLACK), "parts": {}}
            await self._save_state(marker_key, marker)
        username = webhook_username(message.comment.author_name)
        sent: dict[int, int] = {}
        for index, text in enumerate(parts):
            if index in skip:
                continue
            if str(index) in marker["parts"]:
                sent[index] = int(marker["parts"][str(index)])
                continue
            found = None
            if resuming or earlier_attempt:
                thread = client.get_partial_messageable(thread_id, type=discord.ChannelType.public_thread)
                claimed = taken | {int(v) for v in marker["parts"].values()}
                found = await self._find_sent(client, thread, marker["after"], text, username, claimed)
                if found is not None:
                    log.info("part %d of %s was delivered before; not sending it again", index, key)
            sent[index] = (
                found
                if found is not None
                else await self._post(client, channel_id, thread_id, text, message, nonce(key, index), username)
            )
            marker["parts"][str(index)] = str(sent[index])
            await self._save_state(marker_key, marker)
        return sent

    async def _find_sent(
        self,
        client: discord.Client,
        where: discord.abc.Messageable,
        after: int,
        text: str,
        username: str | None,
        claimed: set[int],
    ) -> int | None:
        """A message we already sent here since `after` with this text (by our webhook under
        `username`, or by the bot itself), not yet claimed by another part."""
        me = client.user
        async for seen in where.history(after=discord.Object(id=after), limit=500, oldest_first=True):
            if seen.id in claimed or seen.content != text:
                continue
            by_webhook = seen.webhook_id is not None and username is not None and seen.author.name == username
            by_bot = me is not None and seen.author.id == me.id and seen.webhook_id is None
            if by_webhook or by_bot:
                return seen.id
        return None

    async def _post(
        self,
        client: discord.Client,
        channel_id: int,
        thread_id: int,
        text: str,
        message: MirroredComment,
        bot_nonce: str,
        username: str,
    ) -> int:
        avatar = message.comment.avatar_url
        avatar_url = avatar if avatar.startswith(("https://", "http://")) and len(avatar) <= 2048 else None

        async def post() -> int:
            hook = await self._webhook(client, channel_id)
            if hook is None:
                thread = client.get_partial_messageable(thread_id, type=discord.ChannelType.public_thread)
                sent = await thread.send(text, nonce=bot_nonce, allowed_mentions=NO_MENTIONS)
                return sent.id
            try:
                hooked = await hook.send(
                    text,
                    username=username,
                    avatar_url=avatar_url or discord.utils.MISSING,
                    thread=discord.Object(id=thread_id),
                    allowed_mentions=NO_MENTIONS,
                    wait=True,
                )
            except discord.NotFound as exc:
                if exc.code != UNKNOWN_WEBHOOK:
                    raise
                log.warning("the webhook of channel %s was deleted; making a new one", channel_id)
                await self._forget_webhook(channel_id)
                raise ChatError(
                    "the channel's webhook was deleted; retrying with a new one", transient=True, retry_after=0.1
                ) from exc
            return hooked.id

        return await self._in_thread(client, thread_id, post)

    async def edit_comment(
        self, channel: str, thread_ref: str, refs: list[str], message: MirroredComment, key: str
    ) -> list[str]:
        channel_id, thread_id = _snowflake(channel, "channel"), _snowflake(thread_ref, "thread")
        async with self._guard(f"edit comment {message.comment.id} in thread {thread_ref}") as client:
            await self._channel(client, channel_id)
            hook = await self._webhook(client, channel_id)
            parts = self._render(client, channel_id, thread_ref, message, as_bot=hook is None)
            kept: dict[int, int] = {}
            for index, text in enumerate(parts[: len(refs)]):
                message_id = int(refs[index])
                if await self._in_thread(
                    client, thread_id, partial(self._edit_part, client, hook, thread_id, message_id, text)
                ):
                    kept[index] = message_id
            added = await self._send_parts(
                client, channel_id, thread_id, parts, message, key, True, set(kept), set(kept.values())
            )
            for ref in refs[len(parts) :]:
                await self._in_thread(client, thread_id, partial(self._delete_part, client, hook, thread_id, int(ref)))
            return [str({**kept, **added}[i]) for i in range(len(parts))]

    async def _edit_part(
        self, client: discord.Client, hook: discord.Webhook | None, thread_id: int, message_id: int, text: str
    ) -> bool:
        """Edit one part (a webhook's or the bot's message); False when it is gone or not ours."""
        thread = client.get_partial_messageable(thread_id, type=discord.ChannelType.public_thread)
        ways: list[Callable[[], Awaitable[Any]]] = [
            partial(thread.get_partial_message(message_id).edit, content=text, allowed_mentions=NO_MENTIONS)
        ]
        if hook is not None:
            ways.insert(
                0,
                partial(
                    hook.edit_message,
                    message_id,
                    content=text,
                    thread=discord.Object(id=thread_id),
                    allowed_mentions=NO_MENTIONS,
                ),
            )
        for way in ways:
            try:
                await way()
                return True
            except (discord.NotFound, discord.Forbidden) as exc:
                if exc.code not in (UNKNOWN_MESSAGE, UNKNOWN_WEBHOOK, CANNOT_EDIT_OTHERS):
                    raise
        log.warning("message %s in thread %s is gone or not ours; posting the edited part anew", message_id, thread_id)
        return False

    async def _delete_part(
        self, client: discord.Client, hook: discord.Webhook | None, thread_id: int, message_id: int
    ) -> None:
        thread = client.get_partial_messageable(thread_id, type=discord.ChannelType.public_thread)
        ways: list[Callable[[], Awaitable[Any]]] = [thread.get_partial_message(message_id).delete]
        if hook is not None:
            ways.insert(0, partial(hook.delete_message, message_id, thread=discord.Object(id=thread_id)))
        for way in ways:
            try:
                await way()
                return
            except discord.NotFound:
                continue
            except discord.Forbidden as exc:
                log.debug("cannot delete %s this way: %s", message_id, exc)
                continue
        log.info("message %s in thread %s was already gone (or is not ours to delete)", message_id, thread_id)

    async def delete_messages(self, channel: str, thread_ref: str, refs: list[str]) -> None:
        channel_id, thread_id = _snowflake(channel, "channel"), _snowflake(thread_ref, "thread")
        async with self._guard(f"delete messages in thread {thread_ref}") as client:
            hook = await self._webhook(client, channel_id)
            for ref in refs:
                await self._in_thread(client, thread_id, partial(self._delete_part, client, hook, thread_id, int(ref)))

    # -- incoming --------------------------------------------------------------------------

    def queue_event(self, event: ChatEvent) -> None:
        self._incoming.put_nowait(event)

    def _ours(self, message: discord.Message) -> bool:
        """From the bot, a webhook (ours or another bridge's) or another bot: never relayed."""
        client = self.client
        return (
            message.webhook_id is not None
            or message.author.bot
            or (client is not None and client.user is not None and message.author.id == client.user.id)
        )

    @staticmethod
    def _text(message: discord.Message) -> str:
        text = message.clean_content
        urls = [a.url for a in message.attachments]
        return "\n".join([text, *urls]) if urls else text

    def message_seen(
        self, message: discord.Message, author_name: str | None = None, *, catching_up: bool = False
    ) -> bool:
        """Queue a member's message in a thread for the core, and the thread's new mark behind it
        (for every message: the bot's own too, so a thread it posted in last has no news).
        True when it was a member's message."""
        channel = message.channel
        if isinstance(channel, discord.Thread):
            parent = str(channel.parent_id)
        elif isinstance(channel, discord.PartialMessageable) and channel.type in (
            None,
            discord.ChannelType.public_thread,
        ):
            parent = ""  # an uncached thread: the store knows its channel
        else:
            return False  # not in a thread
        human = not self._ours(message) and message.type in (discord.MessageType.default, discord.MessageType.reply)
        if human:
            self.queue_event(self._chat_message(message, parent, author_name or message.author.display_name))
            if catching_up and message.edited_at is not None:
                # Edited since it was maybe relayed: edit jobs are keyed by text, so this is a no-op if not.
                self.queue_event(ChatEdit(self.name, str(message.id), self._text(message)))
        self._incoming.put_nowait(Mark(channel.id, message.id))
        return human

    def _chat_message(self, message: discord.Message, parent: str, author_name: str) -> ChatMessage:
        reference = message.reference
        reply_to = None
        if message.type == discord.MessageType.reply and reference is not None and reference.message_id is not None:
            reply_to = str(reference.message_id)
        return ChatMessage(
            chat=self.name,
            channel=parent,
            thread_ref=str(message.channel.id),
            message_ref=str(message.id),
            author_name=author_name,
            author_id=str(message.author.id),
            text=self._text(message),
            reply_to_ref=reply_to,
        )

    def edit_seen(self, payload: discord.RawMessageUpdateEvent) -> None:
        message = payload.message
        if self._ours(message) or "content" not in payload.data:
            return
        before = payload.cached_message
        if before is not None and before.content == message.content and before.attachments == message.attachments:
            return  # an embed or flag update, not an edit
        if payload.data.get("edited_timestamp") is None:
            return
        self.queue_event(ChatEdit(self.name, str(message.id), self._text(message)))

    def session_started(self) -> None:
        """A new gateway session (not a RESUME): Discord will not replay what it missed."""
        self.catch_up.new_session()
        if self._catch_up_task is not None:
            self._catch_up_task.cancel()  # its reads are of no use in this session
            self._catch_up_task = None

    def start_catch_up(self) -> None:
        if self._catch_up_task is None and self.client is not None:
            self._catch_up_task = asyncio.create_task(self._catch_up(self.client), name="discord-catch-up")

    async def _catch_up(self, client: discord.Client) -> None:
        try:
            await self.catch_up.run(
                client, partial(self.message_seen, catching_up=True), self._incoming.put_nowait, self.content_intent
            )
        except Exception:  # a store or programming error; the next READY tries again
            self.record_error("catching up on the threads")

    async def wait_caught_up(self) -> None:
        """Until this session's catch-up was handed to the core (for tests)."""
        await self.catch_up.done.wait()
        await self.wait_incoming()

    async def _drain_incoming(self) -> None:
        """Hand chat events to the core one at a time, in the order the gateway sent them."""
        while True:
            event = await self._incoming.get()
            try:
                if isinstance(event, Mark):
                    self.catch_up.note(event)  # what it follows was handed over
                    continue
                if isinstance(event, ChatMessage) and not event.channel:
                    thread = await self.store.find_thread(self.name, event.thread_ref)
                    if thread is None:
                        continue  # not a mirrored thread
                    event = ChatMessage(**{**event.__dict__, "channel": thread.channel})
                if self.events is not None:
                    await self.events.on_chat_event(event)
            except Exception:
                self.record_error(f"handling {type(event).__name__} {getattr(event, 'message_ref', '')}")
            finally:
                self._incoming.task_done()

    async def wait_incoming(self) -> None:
        """Until every chat event received so far was handed to the core (for tests)."""
        await self._incoming.join()

    # -- slash commands (CommandHost) ----------------------------------------------------

    async def run_command(self, interaction: discord.Interaction, name: str, args: dict[str, str]) -> None:
        perms = interaction.permissions
        is_admin = perms.manage_guild or perms.administrator
        # Answers are private, except a summary an admin asked to post for everyone.
        ephemeral = not (name == "summarize" and args.get("public") == "yes" and is_admin)
        await interaction.response.defer(ephemeral=ephemeral, thinking=True)
        channel = interaction.channel
        in_thread = isinstance(channel, discord.Thread)
        parent = channel.parent_id if isinstance(channel, discord.Thread) else interaction.channel_id
        call = CommandCall(
            chat=self.name,
            channel=str(parent or ""),
            thread_ref=str(interaction.channel_id) if in_thread else None,
            user_name=interaction.user.display_name,
            user_id=str(interaction.user.id),
            is_admin=is_admin,
            name=name,
            args=args,
            respond=partial(self._respond, interaction, ephemeral),
        )
        if self.events is None:
            await self._respond(interaction, True, "The bot is still starting; try again in a moment.")
            return
        await self.events.on_command(call)

    async def _respond(self, interaction: discord.Interaction, ephemeral: bool, text: str) -> None:
        for part in split_message(text, MAX_MESSAGE) or ["(nothing to say)"]:
            await interaction.followup.send(part, ephemeral=ephemeral, allowed_mentions=NO_MENTIONS)

    async def mirror_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        perms = interaction.permissions
        if not (perms.manage_guild or perms.administrator):
            return []
        wanted = current.lower()
        names = [m.name for m in await self.store.mirrors() if wanted in m.name.lower()]
        return [app_commands.Choice(name=n[:100], value=n) for n in names[:25]]

    async def command_failed(self, interaction: discord.Interaction, error: Exception) -> None:
        cause = error.__cause__ or error
        self.record_error(
            f"slash command {interaction.command.qualified_name if interaction.command else '?'}: {cause!r}",
            with_traceback=False,
        )
        log.error("slash command failed", exc_info=cause)
        text = f"Something went wrong: {cause}. The error was logged for the bot's operator."
        with contextlib.suppress(discord.HTTPException):
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
            else:
                await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
