"""The Matrix adapter: mirrors threads into a room with matrix-nio and relays human replies back.

- Login: an access token from the config, or a password once; then the device id and token live in
  the store (`chat_state`), so transaction ids stay scoped to the same device across restarts
  (Synapse remembers a device's transaction ids for 24 h; a retried send returns the first event).
  Never `logout()`: it deletes the device and every token of it.
- Sending: every event has a transaction id derived from the outbox key (and part). nio is told not
  to retry 429s itself (it would loop forever); `M_LIMIT_EXCEEDED` is waited out here using
  `retry_after_ms`, one request at a time while limited, up to `rate_limit_max_wait` seconds per
  delivery; past that the outbox is told to come back later (`ChatError(transient, retry_after)`).
- Receiving: our own sync loop (not `sync_forever`, which spins without backoff on errors) reads raw
  events, fills gaps of limited timelines, and stores the sync token after each batch. The first
  start only records where "now" is; later starts catch up from the stored token.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from nio import (
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    JoinError,
    LoginError,
    MessageDirection,
    ProfileGetDisplayNameResponse,
    RoomGetEventResponse,
    RoomGetStateResponse,
    RoomMessagesResponse,
    SyncResponse,
    WhoamiError,
)

from bot.chats.base import ChatError, ChatEvents
from bot.chats.matrix.commands import CommandSyntaxError, matrix_help, parse_command
from bot.chats.matrix.content import (
    MAX_PART_BYTES,
    Content,
    Incoming,
    Part,
    edit_content,
    notice_content,
    parse_event,
    part_content,
    render_comment,
    thread_relation,
    thread_root_content,
    txn_id,
)
from bot.commands.mirror import age
from bot.config import MatrixChat as MatrixSettings
from bot.models import ChatDelete, ChatEdit, ChatMessage, CommandCall, MirroredComment, ThreadHeader
from bot.store import Store

log = logging.getLogger(__name__)

SYNC_FILTER: dict[str, Any] = {
    "presence": {"not_types": ["*"]},
    "account_data": {"not_types": ["*"]},
    "room": {
        "timeline": {"limit": 50},
        "ephemeral": {"not_types": ["*"]},
        "account_data": {"not_types": ["*"]},
        "state": {"lazy_load_members": False},
    },
}
FIRST_SYNC_FILTER: dict[str, Any] = {**SYNC_FILTER, "room": {**SYNC_FILTER["room"], "timeline": {"limit": 1}}}
COMMAND_MAX_AGE = 600.0  # seconds: older commands found while catching up are not run any more
GAP_FILL_LIMIT = 2000  # events fetched per room to fill one limited timeline
MAX_EVENT_FAILURES = 3  # handling attempts before an incoming event is skipped (logged)
SERIALIZE_AFTER_LIMIT = 60.0  # seconds of one-at-a-time sending after the last 429
# A waiting (long-poll) sync is woken, and its answer computed by the homeserver, by every event in
# the bot's rooms, its own included: in a backfill that is one sync computation per event sent (a
# quarter of Synapse's work per event here). So while the bot sends (and for SYNC_BUSY_WINDOW
# seconds after; from the start, which usually catches up), it syncs without waiting, once every
# SYNC_BUSY_PAUSE seconds: replies reach it up to a second later meanwhile.
SYNC_BUSY_WINDOW = 10.0
SYNC_BUSY_PAUSE = 1.0
PERMANENT_ERRORS = {"M_BAD_JSON", "M_NOT_JSON", "M_TOO_LARGE", "M_INVALID_PARAM", "M_UNRECOGNIZED", "M_NOT_FOUND"}


def _infinite_power(room_version: str) -> bool:
    """Room versions 12 and later give the room's creators unlimited power (MSC4289)."""
    return room_version.isdigit() and int(room_version) >= 12


class MatrixChat:
    label = "Matrix"
    max_message_length = MAX_PART_BYTES  # bytes of JSON per part (body + formatted body)

    def __init__(
        self,
        settings: MatrixSettings,
        store: Store,
        name: str = "matrix",
        *,
        max_part_bytes: int = MAX_PART_BYTES,
    ) -> None:
        self.settings = settings
        self.store = store
        self.name = name
        self.user_id = settings.user_id
        self.max_part_bytes = self.max_message_length = max_part_bytes
        self.events: ChatEvents | None = None
        self.client: Any = None  # nio.AsyncClient (untyped)
        self.sync_token: str | None = None
        self.sent = 0  # events this process sent (for tests and benchmarks)
        self.rate_limited = 0  # 429s seen
        self.gaps_filled = 0  # limited timelines completed from /messages
        self._sync_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._latest: dict[str, str] = {}  # thread root → its latest event, for reply fallbacks
        self._problems: dict[str, tuple[float, str]] = {}
        self._blocked_until = 0.0  # monotonic time before which the homeserver refuses more
        self._serialize_until = 0.0
        self._gate = asyncio.Lock()
        self._warned_encrypted: set[str] = set()
        self._event_failures: dict[str, int] = {}
        self.synced = asyncio.Event()  # set after every completed sync (tests wait on it)
        self.connected = False  # logged in
        self._has_state = False  # nio knows the rooms' state (a full-state sync was made)
        self._sent_at = time.monotonic()  # the last send (see SYNC_BUSY_WINDOW); starting counts as one

    # -- life cycle --------------------------------------------------------------------

    async def start(self, events: ChatEvents) -> None:
        """Log in, join the rooms and sync once; a homeserver that cannot be reached is retried
        in the background (deliveries wait meanwhile), a refused login raises ChatError."""
        self.events = events
        config = AsyncClientConfig(
            max_limit_exceeded=0,  # we handle 429s; nio would retry them forever
            max_timeouts=1,  # likewise connection errors
            request_timeout=self.settings.request_timeout,
        )
        self.client = AsyncClient(self.settings.homeserver, self.user_id, config=config)
        self.sync_token = await self.store.get_chat_state(self.name, "sync_token")
        try:
            await self._connect()
        except ChatError as exc:
            if not exc.transient:
                await self.client.close()
                raise
            log.warning("matrix: %s; retrying in the background", exc)
            self._problem("sync", str(exc))
        self._sync_task = asyncio.create_task(self._sync_loop(), name=f"{self.name}-sync")

    async def _connect(self) -> None:
        try:
            await self._login()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self._problem("sync", f"cannot reach the homeserver {self.settings.homeserver}: {exc!r}")
            raise ChatError(f"cannot reach the homeserver {self.settings.homeserver}: {exc!r}", transient=True) from exc
        self.connected = True
        await self._join_rooms()
        await self._sync_once()

    async def stop(self) -> None:
        tasks = [t for t in (self._sync_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._sync_task = None
        if self.client is not None:
            await self.client.close()  # closes the HTTP session only: never logout()

    async def health(self) -> str | None:
        problems = [f"{text} (since {age(since)})" for since, text in sorted(self._problems.values())]
        wait = self._blocked_until - time.monotonic()
        if wait > 0:
            problems.append(
                f"rate limited by the homeserver, next send in {wait:.0f}s ({self.rate_limited} waits so far)"
            )
        return "; ".join(problems) or None

    def _problem(self, kind: str, text: str) -> None:
        since = self._problems.get(kind, (time.time(), ""))[0]
        self._problems[kind] = (since, text)

    def _clear(self, kind: str) -> None:
        self._problems.pop(kind, None)

    # -- login and rooms -----------------------------------------------------------------

    async def _login(self) -> None:
        client, settings = self.client, self.settings
        if settings.access_token is not None:
            client.access_token = settings.access_token.get_secret_value()
            await self._whoami(must_work=True)
            return
        token = await self.store.get_chat_state(self.name, "access_token")
        client.device_id = await self.store.get_chat_state(self.name, "device_id") or ""
        if token and client.device_id:
            client.access_token = token
            if await self._whoami(must_work=False):
                return
            client.access_token = ""
        assert settings.password is not None  # the config requires one of the two
        # Logging in again with the stored device id keeps the device (and its transaction ids).
        resp = await client.login(settings.password.get_secret_value(), device_name=settings.device_name)
        if isinstance(resp, LoginError):
            raise ChatError(f"matrix login as {self.user_id} failed: {resp.message}", transient=not _refused(resp))
        client.access_token, client.device_id = resp.access_token, resp.device_id
        await self.store.set_chat_state(self.name, "device_id", str(resp.device_id))
        await self.store.set_chat_state(self.name, "access_token", str(resp.access_token))
        log.info("matrix: logged in as %s, device %s", self.user_id, resp.device_id)

    async def _whoami(self, must_work: bool) -> bool:
        client = self.client
        resp = await client.whoami()
        if isinstance(resp, WhoamiError):
            if not must_work and resp.status_code == "M_UNKNOWN_TOKEN":
                return False
            if not _refused(resp):  # a 5xx or a rate limit says nothing about the token
                raise ChatError(f"matrix whoami failed: {resp.status_code or _http_status(resp)}", transient=True)
            raise ChatError(f"matrix access token for {self.user_id} refused: {resp.message}", transient=False)
        if resp.user_id != self.user_id:
            raise ChatError(
                f"the matrix access token belongs to {resp.user_id}, not {self.user_id} (fix chats.matrix.user_id)",
                transient=False,
            )
        client.user_id, client.device_id = resp.user_id, resp.device_id or ""
        stored = await self.store.get_chat_state(self.name, "device_id")
        if stored and stored != client.device_id:
            log.warning(
                "matrix: the device changed (%s → %s); a delivery interrupted just before this start may show twice",
                stored,
                client.device_id,
            )
        await self.store.set_chat_state(self.name, "device_id", str(client.device_id))
        return True

    async def _join_rooms(self) -> None:
        rooms = list(dict.fromkeys(self.settings.rooms))
        for mirror in await self.store.mirrors():
            rooms.extend(t.channel for t in mirror.targets if t.chat == self.name and t.channel not in rooms)
        for room in rooms:
            await self._join(room)

    async def _join(self, room: str) -> bool:
        try:
            resp = await self.client.join(room)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self._problem(f"join {room}", f"cannot join {room}: {exc}")
            return False
        if isinstance(resp, JoinError):
            self._problem(f"join {room}", f"cannot join {room}: {resp.message} (invite the bot)")
            log.warning("matrix: cannot join %s: %s", room, resp.message)
            return False
        self._clear(f"join {room}")
        return True

    # -- sending ---------------------------------------------------------------------------

    async def _request(self, what: str, make: Callable[[], Awaitable[Any]], room: str | None = None) -> Any:
        """One request, waiting out rate limits (capped) and mapping errors to ChatError."""
        if not self.connected:
            raise ChatError(f"{what}: not connected to the homeserver yet", transient=True, retry_after=5.0)
        started = time.monotonic()
        joined_once = False
        while True:
            serialize = time.monotonic() < self._serialize_until
            async with self._gate if serialize else contextlib.nullcontext():
                wait = self._blocked_until - time.monotonic()
                waited = time.monotonic() - started
                if wait > 0 and waited + wait > self.settings.rate_limit_max_wait:
                    raise ChatError(f"{what}: rate limited by the homeserver", transient=True, retry_after=wait)
                if wait > 0:
                    await asyncio.sleep(wait)
                try:
                    resp = await make()
                except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                    self._problem("send", f"cannot reach the homeserver: {exc!r}")
                    raise ChatError(f"{what}: {exc!r}", transient=True) from exc
                if not isinstance(resp, ErrorResponse):
                    self._clear("send")
                    self._clear(f"send {room}")
                    self._clear(f"join {room}")  # we are in it: a join that failed at start is moot
                    return resp
                if resp.status_code == "M_LIMIT_EXCEEDED" or _http_status(resp) == 429:
                    retry = (resp.retry_after_ms or 5000) / 1000
                    self.rate_limited += 1
                    now = time.monotonic()
                    self._blocked_until = max(self._blocked_until, now + retry)
                    self._serialize_until = now + retry + SERIALIZE_AFTER_LIMIT
                    log.info("matrix: rate limited (%s), waiting %.1fs", what, retry)
                    continue
            if resp.status_code == "M_FORBIDDEN" and room is not None and not joined_once:
                joined_once = True
                if await self._join(room):
                    continue  # we were not in the room (yet)
            raise self._error(what, resp, room)

    def _error(self, what: str, resp: Any, room: str | None) -> ChatError:
        code, status = resp.status_code, _http_status(resp)
        where = f" in {room}" if room else ""
        text = f"{what}{where}: {code or status or ''} {resp.message}".strip()
        kind = f"send {room}"
        if code in PERMANENT_ERRORS or (status is not None and 400 <= status < 500 and code is None):
            self._problem(kind, text)
            return ChatError(text, transient=False)
        if code == "M_FORBIDDEN":
            text += " (is the bot invited, and may it post there?)"
            self._problem(kind, text)
            return ChatError(text, transient=True, retry_after=60.0)
        self._problem(kind, text)
        return ChatError(text, transient=True)

    async def _send(self, room: str, content: Content, txn: str, what: str = "send") -> str:
        resp = await self._request(
            what, lambda: self.client.room_send(room, "m.room.message", content, tx_id=txn), room
        )
        self.sent += 1
        self._sent_at = time.monotonic()
        return str(resp.event_id)

    async def _redact(self, room: str, event_id: str, txn: str) -> None:
        try:
            await self._request(
                "redact", lambda: self.client.room_redact(room, event_id, reason="removed on the site", tx_id=txn), room
            )
        except ChatError as exc:
            if "M_NOT_FOUND" not in str(exc):
                raise
        self.sent += 1
        self._sent_at = time.monotonic()

    # -- ChatAdapter -------------------------------------------------------------------------

    async def open_thread(self, channel: str, header: ThreadHeader, key: str) -> str:
        return await self._send(channel, thread_root_content(header), txn_id(key, "root"), "open thread")

    def _render(self, message: MirroredComment) -> list[Part]:
        return render_comment(message, self.max_part_bytes)

    async def _send_parts(
        self, channel: str, thread_ref: str, parts: list[Part], first: int, reply_to: str | None, key: str
    ) -> list[str]:
        refs: list[str] = []
        previous = self._latest.get(thread_ref, thread_ref)
        for index, part in enumerate(parts, start=first):
            if index == 0 and reply_to:
                relation = thread_relation(thread_ref, reply_to, falling_back=False)
            else:
                relation = thread_relation(thread_ref, previous, falling_back=True)
            previous = await self._send(channel, part_content(part, relation), txn_id(key, index))
            refs.append(previous)
            self._latest[thread_ref] = previous
        return refs

    async def send_comment(
        self, channel: str, thread_ref: str, message: MirroredComment, key: str, resuming: bool
    ) -> list[str]:
        # A resumed delivery reuses its transaction ids: the homeserver answers with the events it made.
        reply_to = message.parent.message_ref if message.parent else None
        return await self._send_parts(channel, thread_ref, self._render(message), 0, reply_to, key)

    async def edit_comment(
        self, channel: str, thread_ref: str, refs: list[str], message: MirroredComment, key: str
    ) -> list[str]:
        parts = self._render(message)
        for index, (part, ref) in enumerate(zip(parts, refs, strict=False)):
            await self._send(channel, edit_content(part, ref), txn_id(key, "edit", index), "edit")
        extra = await self._send_parts(channel, thread_ref, parts[len(refs) :], len(refs), None, key)
        for ref in refs[len(parts) :]:
            await self._redact(channel, ref, txn_id(key, "redact", ref))
        return refs[: len(parts)] + extra

    async def delete_messages(self, channel: str, thread_ref: str, refs: list[str]) -> None:
        for ref in refs:
            await self._redact(channel, ref, txn_id("redact", ref))

    # -- receiving ---------------------------------------------------------------------------

    async def _sync_loop(self) -> None:
        failures = 0
        while True:
            try:
                if self.connected:
                    await self._sync_once()
                else:
                    await self._connect()
                failures = 0
                if self._sending():
                    await asyncio.sleep(SYNC_BUSY_PAUSE)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never spin: back off, and show it in `mirror status`
                failures += 1
                delay = min(60.0, 0.5 * 2**failures)
                self._problem("sync", f"sync failing: {exc}")
                log.warning("matrix: sync failed (%s), retrying in %.0fs", exc, delay)
                await asyncio.sleep(delay)

    def _sending(self) -> bool:
        return time.monotonic() - self._sent_at < SYNC_BUSY_WINDOW

    async def _sync_once(self) -> None:
        client = self.client
        since = self.sync_token
        if since is None:  # first start ever: note where "now" is, replay nothing
            resp = await client.sync(timeout=0, sync_filter=_not_from(self.user_id, FIRST_SYNC_FILTER), full_state=True)
        elif not self._has_state:  # a restart: catch up, and learn the rooms' state again
            resp = await client.sync(
                timeout=0, sync_filter=_not_from(self.user_id, SYNC_FILTER), since=since, full_state=True
            )
        else:
            timeout = 0 if self._sending() else int(self.settings.sync_timeout * 1000)
            resp = await client.sync(timeout=timeout, sync_filter=_not_from(self.user_id, SYNC_FILTER), since=since)
        if not isinstance(resp, SyncResponse):
            if getattr(resp, "status_code", None) == "M_UNKNOWN_TOKEN":
                self.connected = False  # log in again (a password login gets a new token)
            raise ChatError(f"sync: {resp}", transient=True)
        await self._handle_sync(resp, replay=since is not None)
        self.sync_token = resp.next_batch
        self._has_state = True
        await self.store.set_chat_state(self.name, "sync_token", str(resp.next_batch))
        self._clear("sync")
        self.synced.set()
        self.synced.clear()

    async def _handle_sync(self, resp: Any, replay: bool) -> None:
        for room_id, info in resp.rooms.invite.items():
            await self._on_invite(room_id, info.invite_state)
        for room_id, info in resp.rooms.join.items():
            room = self.client.rooms.get(room_id)
            if room is not None and room.encrypted and room_id not in self._warned_encrypted:
                self._warned_encrypted.add(room_id)
                self._problem(f"encrypted {room_id}", f"room {room_id} is encrypted: replies there cannot be read")
            if not replay:
                continue
            events = [e.source for e in info.timeline.events]
            if info.timeline.limited and info.timeline.prev_batch and self.sync_token:
                events = await self._fill_gap(room_id, info.timeline.prev_batch, self.sync_token) + events
                self.gaps_filled += 1
            seen: set[str] = set()
            for source in events:
                event_id = source.get("event_id")
                if event_id in seen:
                    continue
                seen.add(event_id)
                try:
                    await self._on_event(room_id, source)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # Retried with the whole batch (the sync token is not advanced), but a
                    # poison event must not stall the sync for ever.
                    failures = self._event_failures[str(event_id)] = self._event_failures.get(str(event_id), 0) + 1
                    if failures < MAX_EVENT_FAILURES:
                        raise
                    log.exception("matrix: giving up on event %s in %s", event_id, room_id)

    async def _fill_gap(self, room_id: str, prev_batch: str, since: str) -> list[dict[str, Any]]:
        """Events between our last sync and a limited timeline, oldest first."""
        found: list[dict[str, Any]] = []
        start = prev_batch
        while len(found) < GAP_FILL_LIMIT:
            page = functools.partial(
                self.client.room_messages, room_id, start=start, end=since, direction=MessageDirection.back, limit=100
            )
            resp = await self._request("catch up", page)
            if not isinstance(resp, RoomMessagesResponse) or not resp.chunk:
                break
            found.extend(e.source for e in resp.chunk)
            if not resp.end or resp.end == start:
                break
            start = resp.end
        return found[::-1]

    async def _on_invite(self, room_id: str, invite_state: list[Any]) -> None:
        inviter = next(
            (
                getattr(e, "sender", None)
                for e in invite_state
                if getattr(e, "state_key", None) == self.user_id and getattr(e, "membership", None) == "invite"
            ),
            None,
        )
        if inviter in self.settings.admins or room_id in self.settings.rooms:
            log.info("matrix: %s invited the bot to %s; joining", inviter, room_id)
            await self._join(room_id)
        else:
            log.info("matrix: declining the invite of %s to %s (not an admin)", inviter, room_id)
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
                await self.client.room_leave(room_id)

    async def _on_event(self, room_id: str, source: dict[str, Any]) -> None:
        incoming = parse_event(source)
        if incoming is None:
            return
        if incoming.sender == self.user_id:  # our own events come back in the sync
            return
        if incoming.kind == "message":
            try:
                command = parse_command(incoming.text, self.settings.command_prefix)
            except CommandSyntaxError as exc:
                self._spawn(self._responder(room_id, incoming)(str(exc)))
                return
            if command is not None:
                self._spawn(self._command(room_id, incoming, *command))
            else:
                await self._message(room_id, incoming)
        elif incoming.kind == "edit":
            await self._edit(room_id, incoming)
        else:
            await self._redaction(incoming)

    def _spawn(self, coro: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("matrix: command failed")

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _message(self, room_id: str, incoming: Incoming) -> None:
        thread_root = incoming.thread_root
        if thread_root is None and incoming.reply_to is not None:
            # A client without threads answered a mirrored message (or a thread root) directly.
            mapped = await self.store.lookup_message(self.name, incoming.reply_to)
            if mapped is not None:
                thread_root = mapped.thread_ref
            elif await self.store.find_thread(self.name, incoming.reply_to) is not None:
                thread_root = incoming.reply_to
        if thread_root is None or await self.store.find_thread(self.name, thread_root) is None:
            return  # not in a mirrored thread
        self._latest[thread_root] = incoming.event_id
        name = await self._display_name(room_id, incoming.sender)
        text = f"{name} {incoming.text}" if incoming.emote else incoming.text
        assert self.events is not None
        await self.events.on_chat_event(
            ChatMessage(
                chat=self.name,
                channel=room_id,
                thread_ref=thread_root,
                message_ref=incoming.event_id,
                author_name=name,
                author_id=incoming.sender,
                text=text,
                reply_to_ref=incoming.reply_to,
            )
        )

    async def _edit(self, room_id: str, incoming: Incoming) -> None:
        assert incoming.target is not None and self.events is not None
        mapped = await self.store.lookup_message(self.name, incoming.target)
        if mapped is None or mapped.origin != "chat":
            return  # not a relayed message
        # Only its author may edit a message (the spec asks clients to ignore other senders' edits).
        resp = await self._request("read event", lambda: self.client.room_get_event(room_id, incoming.target))
        if not isinstance(resp, RoomGetEventResponse) or resp.event.source.get("sender") != incoming.sender:
            log.info("matrix: ignoring %s's edit of someone else's message %s", incoming.sender, incoming.target)
            return
        await self.events.on_chat_event(ChatEdit(self.name, incoming.target, incoming.text))

    async def _redaction(self, incoming: Incoming) -> None:
        assert incoming.target is not None and self.events is not None
        mapped = await self.store.lookup_message(self.name, incoming.target)
        if mapped is None or mapped.origin != "chat":
            return
        await self.events.on_chat_event(ChatDelete(self.name, incoming.target))

    async def _display_name(self, room_id: str, user_id: str) -> str:
        room = self.client.rooms.get(room_id)
        user = room.users.get(user_id) if room is not None else None
        name = getattr(user, "display_name", None)
        if not name:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
                resp = await self.client.get_displayname(user_id)
                if isinstance(resp, ProfileGetDisplayNameResponse):
                    name = resp.displayname
        return str(name or user_id[1:].split(":", 1)[0])

    # -- commands --------------------------------------------------------------------------

    async def _command(self, room_id: str, incoming: Incoming, name: str, args: dict[str, str]) -> None:
        assert self.events is not None
        age_s = time.time() - incoming.timestamp_ms / 1000
        if incoming.timestamp_ms and age_s > COMMAND_MAX_AGE:
            log.info("matrix: not running %s's command from %.0fs ago", incoming.sender, age_s)
            return
        respond = self._responder(room_id, incoming)
        user_name = await self._display_name(room_id, incoming.sender)
        is_admin = incoming.sender in self.settings.admins or (
            await self._power_level(room_id, incoming.sender) >= self.settings.admin_power_level
        )

        async def answer(text: str) -> None:
            await respond(matrix_help(text, self.settings.command_prefix) if name == "help" else text)

        await self.events.on_command(
            CommandCall(
                chat=self.name,
                channel=room_id,
                thread_ref=incoming.thread_root,
                user_name=user_name,
                user_id=incoming.sender,
                is_admin=is_admin,
                name=name,
                args=args,
                respond=answer,
            )
        )

    def _responder(self, room_id: str, incoming: Incoming) -> Callable[[str], Awaitable[None]]:
        """Answers in the thread the command came from (else in the room), as a reply to it."""

        async def respond(text: str) -> None:
            if incoming.thread_root is not None:
                relation: Content = thread_relation(incoming.thread_root, incoming.event_id, falling_back=False)
            else:
                relation = {"m.in_reply_to": {"event_id": incoming.event_id}}
            try:
                await self._send(room_id, notice_content(text, relation), txn_id("answer", incoming.event_id))
            except ChatError as exc:
                log.warning("matrix: could not answer %s: %s", incoming.event_id, exc)

        return respond

    async def _power_level(self, room_id: str, user_id: str) -> float:
        """The user's power in the room, read fresh (room v12 creators have unlimited power)."""
        resp = await self._request("read room state", lambda: self.client.room_get_state(room_id))
        if not isinstance(resp, RoomGetStateResponse):
            return 0
        levels: dict[str, Any] = {}
        for event in resp.events:
            if event.get("type") == "m.room.power_levels" and event.get("state_key") == "":
                levels = event.get("content") or {}
            elif event.get("type") == "m.room.create" and event.get("state_key") == "":
                content = event.get("content") or {}
                creators = [event.get("sender"), *content.get("additional_creators", [])]
                if _infinite_power(str(content.get("room_version", "1"))) and user_id in creators:
                    return float("inf")
        users = levels.get("users") or {}
        try:
            return float(users.get(user_id, levels.get("users_default", 0)))
        except (TypeError, ValueError):
            return 0


def _not_from(user_id: str, sync_filter: dict[str, Any]) -> dict[str, Any]:
    """The filter without our own events in timelines: they would be ignored anyway, and without
    them a sync answers only when someone else acts (a backfill's thousands of sends wake none)."""
    room = sync_filter["room"]
    return {**sync_filter, "room": {**room, "timeline": {**room["timeline"], "not_senders": [user_id]}}}


def _refused(resp: Any) -> bool:
    """Did the homeserver refuse our credentials (rather than fail, or ask us to slow down)?"""
    refusals = ("M_UNKNOWN_TOKEN", "M_FORBIDDEN", "M_USER_DEACTIVATED")
    return resp.status_code in refusals or _http_status(resp) in (401, 403)


def _http_status(resp: Any) -> int | None:
    transport = getattr(resp, "transport_response", None)
    status = getattr(transport, "status", None)
    return status if isinstance(status, int) else None
