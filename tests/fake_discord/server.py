"""A fake Discord: REST (API v10) and the gateway websocket on one 127.0.0.1 port.

Written to Discord's documented payloads, so the real discord.py runs against it unchanged
once `discord.http.Route.BASE` and `DiscordWebSocket.DEFAULT_GATEWAY` point here (see
`FakeDiscord.patch_discord_py`). It keeps what a test needs to look at (guilds, channels,
threads, messages with their edit history, webhooks, interactions and every request), and it
refuses what Discord refuses: unknown routes (404), payloads over Discord's limits (400),
missing permissions (403), and requests over a rate limit (429 with `retry_after`,
`X-RateLimit-*` and `Via` headers).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import time
import uuid
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import WSMsgType, web

from tests.fake_discord.limits import (
    UNKNOWN_CHANNEL,
    UNKNOWN_GUILD,
    UNKNOWN_INTERACTION,
    UNKNOWN_MEMBER,
    UNKNOWN_MESSAGE,
    UNKNOWN_WEBHOOK,
    ApiError,
    Forced429,
    FormErrors,
    RateLimiter,
    archived_thread,
    check_auto_archive,
    check_choices,
    check_command,
    check_message_body,
    check_thread_name,
    check_webhook_name,
    empty_message,
    message_is_empty,
    missing_access,
    missing_permissions,
    unknown,
)
from tests.fake_discord.model import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    APP_FLAG_GATEWAY_MESSAGE_CONTENT,
    APP_FLAG_GATEWAY_MESSAGE_CONTENT_LIMITED,
    BOT_PERMISSIONS,
    CREATE_PUBLIC_THREADS,
    EPHEMERAL,
    GUILD_FORUM,
    GUILD_TEXT,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILDS,
    INTENT_MESSAGE_CONTENT,
    MANAGE_MESSAGES,
    MANAGE_THREADS,
    MANAGE_WEBHOOKS,
    MEMBER_PERMISSIONS,
    PRIVILEGED_INTENTS,
    PUBLIC_THREAD,
    READ_MESSAGE_HISTORY,
    REPLY,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    THREAD_STARTER_MESSAGE,
    VIEW_CHANNEL,
    Channel,
    Guild,
    Interaction,
    Member,
    Message,
    Overwrite,
    Role,
    Snowflakes,
    User,
    Webhook,
    iso,
)

API_PREFIX = "/api/v10/"
ARRAY = "__array__"
INTERACTION_ACK_DEADLINE = 3.0
NONCE_WINDOW = 300.0  # enforce_nonce: "a few minutes"
Params = dict[str, str]
Handler = Callable[[web.Request, Params, dict[str, Any]], Awaitable[web.StreamResponse]]


def json_response(status: int, data: Any, headers: dict[str, str] | None = None) -> web.Response:
    """Discord answers `Content-Type: application/json` exactly (discord.py compares the string)."""
    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def no_content(headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=204, headers=headers or {})


@dataclass
class Route:
    method: str
    template: str
    handler: Handler
    auth: bool  # needs `Authorization: Bot <token>`
    takes_array: bool = False
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\{(\w+)\}", lambda m: f"(?P<{m.group(1)}>[^/]+)", self.template)
        self.pattern = re.compile(f"^{regex}$")

    @property
    def bucket(self) -> str:
        return f"{self.method} {self.template}"


@dataclass
class RequestRecord:
    method: str
    route: str  # the route template, e.g. "POST /webhooks/{webhook_id}/{webhook_token}"
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    status: int = 0
    at: float = field(default_factory=time.monotonic)


@dataclass
class GatewaySession:
    id: str
    intents: int
    seq: int = 0
    buffer: list[dict[str, Any]] = field(default_factory=list)
    conn: GatewayConnection | None = None
    resumable: bool = True


class GatewayConnection:
    def __init__(self, ws: web.WebSocketResponse, zlib_stream: bool) -> None:
        self.ws = ws
        self.compressor = zlib.compressobj() if zlib_stream else None
        self.session: GatewaySession | None = None
        self.lock = asyncio.Lock()
        self.heartbeats = 0

    async def send(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload)
        async with self.lock:
            if self.ws.closed:
                return
            if self.compressor is not None:
                chunk = self.compressor.compress(data.encode()) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
                await self.ws.send_bytes(chunk)
            else:
                await self.ws.send_str(data)


class FakeDiscord:
    def __init__(
        self,
        *,
        token: str = "fake-bot-token",
        message_content_enabled: bool = True,
        heartbeat_interval: float = 41.25,
    ) -> None:
        self.token = token
        self.ids = Snowflakes()
        self.app_id = self.ids.next()
        self.owner = User(self.ids.next(), "owner", "App Owner")
        self.bot = User(self.app_id, "thread-mirror", None, bot=True)
        self.app_flags = APP_FLAG_GATEWAY_MESSAGE_CONTENT if message_content_enabled else 0
        self.heartbeat_interval = heartbeat_interval
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, Message] = {}
        self.webhooks: dict[int, Webhook] = {}
        self.interactions: dict[int, Interaction] = {}
        self.commands: dict[int | None, list[dict[str, Any]]] = {}  # guild id (None: global) -> commands
        self.command_ids: dict[tuple[int | None, str], int] = {}
        self.nonces: dict[tuple[int, int, str], tuple[int, float]] = {}
        self.requests: list[RequestRecord] = []
        self.limiter = RateLimiter()
        self.sessions: dict[str, GatewaySession] = {}
        self.connections: set[GatewayConnection] = set()
        self.identifies: list[dict[str, Any]] = []
        self.resumes = 0
        self.drop_next: dict[str, int] = {}  # bucket -> count: process, then cut the connection
        self.hold: dict[str, asyncio.Event] = {}  # bucket -> gate: process, then wait for the gate
        self.held = asyncio.Event()
        self.changed = asyncio.Event()
        self.errors: list[str] = []  # the fake's own failures (a test should fail on them)
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.routes = self._routes()

    # -- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=25 * 1024 * 1024)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        app.router.add_route("*", "/api/{tail:.*}", self._wrong_version)
        app.router.add_get("/", self._gateway)
        app.router.add_route("*", "/{tail:.*}", self._unknown_path)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[union-attr]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        for gate in self.hold.values():
            gate.set()
        for conn in list(self.connections):
            await conn.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    @contextlib.contextmanager
    def patch_discord_py(self) -> Iterator[None]:
        """Point discord.py's REST base and default gateway here (and back afterwards)."""
        import discord.gateway
        import discord.http
        import yarl

        old_base, old_gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        discord.http.Route.BASE = self.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield
        finally:
            discord.http.Route.BASE = old_base
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway

    # -- building the world ------------------------------------------------------------

    def add_guild(self, name: str = "Harbour Town", bot_permissions: int = BOT_PERMISSIONS) -> Guild:
        guild_id = self.ids.next()
        guild = Guild(guild_id, name, owner_id=self.owner.id)
        guild.roles[guild_id] = Role(guild_id, "@everyone", MEMBER_PERMISSIONS)
        bot_role = Role(self.ids.next(), "Thread Mirror", bot_permissions, position=1)
        guild.roles[bot_role.id] = bot_role
        guild.members[self.bot.id] = Member(self.bot, [bot_role.id])
        guild.members[self.owner.id] = Member(self.owner)
        self.guilds[guild_id] = guild
        return guild

    def bot_role(self, guild: Guild) -> Role:
        return next(r for r in guild.roles.values() if r.name == "Thread Mirror")

    def add_channel(
        self, guild: Guild, name: str, kind: int = GUILD_TEXT, overwrites: list[Overwrite] | None = None
    ) -> Channel:
        channel = Channel(
            self.ids.next(), guild.id, kind, name, position=len(guild.channel_ids), overwrites=overwrites or []
        )
        self.channels[channel.id] = channel
        guild.channel_ids.append(channel.id)
        return channel

    def add_member(
        self,
        guild: Guild,
        username: str,
        global_name: str | None = None,
        nick: str | None = None,
        permissions: int = 0,
    ) -> Member:
        user = User(self.ids.next(), username, global_name)
        roles = []
        if permissions:
            role = Role(self.ids.next(), f"{username}-role", permissions, position=2)
            guild.roles[role.id] = role
            roles.append(role.id)
        member = Member(user, roles, nick)
        guild.members[user.id] = member
        return member

    def deny(self, channel: Channel, role_or_member_id: int, permissions: int, member: bool = False) -> None:
        channel.overwrites.append(Overwrite(role_or_member_id, 1 if member else 0, deny=permissions))

    async def channel_changed(self, channel: Channel) -> None:
        """Tell connected clients a channel changed (CHANNEL_UPDATE), e.g. after `deny`."""
        await self.dispatch("CHANNEL_UPDATE", channel.payload(), INTENT_GUILDS)

    def guild_of(self, channel_id: int) -> Guild:
        return self.guilds[self.channels[channel_id].guild_id]

    # -- permissions (https://discord.com/developers/docs/topics/permissions) -----------

    def permissions(self, user_id: int, channel: Channel | None, guild: Guild | None = None) -> int:
        if channel is not None and channel.is_thread:
            assert channel.parent_id is not None
            channel = self.channels[channel.parent_id]
        guild = guild or (self.guilds[channel.guild_id] if channel else None)
        assert guild is not None
        member = guild.members.get(user_id)
        if member is None:
            return 0
        if user_id == guild.owner_id:
            return ALL_PERMISSIONS
        perms = guild.everyone.permissions
        for role_id in member.roles:
            perms |= guild.roles[role_id].permissions
        if perms & ADMINISTRATOR:
            return ALL_PERMISSIONS
        if channel is None:
            return perms
        by_id = {o.id: o for o in channel.overwrites}
        if (everyone := by_id.get(guild.id)) is not None:
            perms = (perms & ~everyone.deny) | everyone.allow
        allow = deny = 0
        for role_id in member.roles:
            if (o := by_id.get(role_id)) is not None and o.type == 0:
                allow |= o.allow
                deny |= o.deny
        perms = (perms & ~deny) | allow
        if (own := by_id.get(user_id)) is not None and own.type == 1:
            perms = (perms & ~own.deny) | own.allow
        return perms

    def _require(self, user_id: int, channel: Channel, *needed: int) -> None:
        perms = self.permissions(user_id, channel)
        if not perms & VIEW_CHANNEL:
            raise missing_access()
        for bit in needed:
            if not perms & bit:
                raise missing_permissions()

    # -- queries for tests ---------------------------------------------------------------

    def threads_in(self, channel_id: int) -> list[Channel]:
        return sorted(
            (c for c in self.channels.values() if c.parent_id == channel_id and c.is_thread), key=lambda c: c.id
        )

    def channel_messages(
        self, channel_id: int, *, include_deleted: bool = False, system: bool = False
    ) -> list[Message]:
        found = [
            m
            for m in self.messages.values()
            if m.channel_id == channel_id
            and (include_deleted or not m.deleted)
            and (system or m.type not in (THREAD_STARTER_MESSAGE,))
        ]
        return sorted(found, key=lambda m: m.id)

    def requests_to(self, route: str, status: int | None = None) -> list[RequestRecord]:
        return [r for r in self.requests if r.route == route and (status is None or r.status == status)]

    async def wait_for(self, predicate: Callable[[], bool], within: float = 10.0, what: str = "condition") -> None:
        deadline = time.monotonic() + within
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=0.05)

    def rate_limit(self, route: str, limit: int, per: float) -> None:
        """Give a route (e.g. "POST /webhooks/{webhook_id}/{webhook_token}") a bucket of `limit` per `per` s."""
        self.limiter.configure(route, limit, per)

    def force_429(
        self, route: str, count: int, retry_after: float, *, via: bool = True, is_global: bool = False
    ) -> None:
        """Answer the next `count` requests to `route` ("*" for any) with 429."""
        self.limiter.forced.append(Forced429(route, count, retry_after, via, is_global))

    # -- REST dispatch -------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        r = Route
        return [
            r("GET", "gateway", self._get_gateway, False),
            r("GET", "gateway/bot", self._get_gateway_bot, True),
            r("GET", "users/@me", self._get_me, True),
            r("GET", "oauth2/applications/@me", self._get_application, True),
            r("GET", "applications/@me", self._get_application, True),
            r("GET", "applications/{application_id}/commands", self._get_commands, True),
            r("PUT", "applications/{application_id}/commands", self._put_commands, True, True),
            r("GET", "applications/{application_id}/guilds/{guild_id}/commands", self._get_commands, True),
            r("PUT", "applications/{application_id}/guilds/{guild_id}/commands", self._put_commands, True, True),
            r("GET", "guilds/{guild_id}", self._get_guild, True),
            r("GET", "guilds/{guild_id}/channels", self._get_guild_channels, True),
            r("GET", "guilds/{guild_id}/members/{user_id}", self._get_member, True),
            r("GET", "guilds/{guild_id}/threads/active", self._active_threads, True),
            r("GET", "channels/{channel_id}", self._get_channel, True),
            r("PATCH", "channels/{channel_id}", self._patch_channel, True),
            r("GET", "channels/{channel_id}/messages", self._list_messages, True),
            r("POST", "channels/{channel_id}/messages", self._create_message, True),
            r("GET", "channels/{channel_id}/messages/{message_id}", self._get_message, True),
            r("PATCH", "channels/{channel_id}/messages/{message_id}", self._edit_message, True),
            r("DELETE", "channels/{channel_id}/messages/{message_id}", self._delete_message, True),
            r("POST", "channels/{channel_id}/messages/{message_id}/threads", self._thread_from_message, True),
            r("POST", "channels/{channel_id}/threads", self._create_thread, True),
            r("GET", "channels/{channel_id}/threads/archived/public", self._archived_threads, True),
            r("POST", "channels/{channel_id}/webhooks", self._create_webhook, True),
            r("GET", "channels/{channel_id}/webhooks", self._channel_webhooks, True),
            r("GET", "webhooks/{webhook_id}", self._get_webhook, True),
            r("DELETE", "webhooks/{webhook_id}", self._delete_webhook, True),
            r("GET", "webhooks/{webhook_id}/{webhook_token}", self._get_webhook_with_token, False),
            r("POST", "webhooks/{webhook_id}/{webhook_token}", self._execute_webhook, False),
            r("GET", "webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", self._get_webhook_message, False),
            r(
                "PATCH",
                "webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
                self._edit_webhook_message,
                False,
            ),
            r(
                "DELETE",
                "webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
                self._delete_webhook_message,
                False,
            ),
            r("POST", "interactions/{interaction_id}/{interaction_token}/callback", self._interaction_callback, False),
        ]

    def _match(self, method: str, path: str) -> tuple[Route | None, Params, bool]:
        path_matched = False
        for route in self.routes:
            m = route.pattern.match(path)
            if m is None:
                continue
            path_matched = True
            if route.method == method:
                return route, m.groupdict(), True
        return None, {}, path_matched

    @staticmethod
    def _major(params: Params) -> str:
        for key in ("channel_id", "guild_id"):
            if key in params:
                return params[key]
        if "webhook_id" in params:
            return params["webhook_id"] + "+" + params.get("webhook_token", "")
        if "interaction_id" in params:
            return params["interaction_id"]
        return ""

    async def _wrong_version(self, request: web.Request) -> web.Response:
        return json_response(404, {"message": "404: Not Found", "code": 0})

    async def _unknown_path(self, request: web.Request) -> web.Response:
        return json_response(404, {"message": "404: Not Found", "code": 0})

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        ctype = request.content_type
        if ctype == "multipart/form-data":
            form = await request.post()
            raw = form.get("payload_json")
            return json.loads(str(raw)) if raw else {}
        text = await request.text()
        if not text:
            return {}
        try:
            data = json.loads(text)
        except ValueError:
            raise ApiError(400, 50109, "The request body contains invalid JSON.") from None
        if isinstance(data, list):
            return {ARRAY: data}  # a JSON array (bulk command overwrite); other routes refuse it
        if not isinstance(data, dict):
            raise ApiError(400, 50035, "Invalid Form Body")
        return data

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["tail"].rstrip("/")
        route, params, path_known = self._match(request.method, path)
        record = RequestRecord(request.method, route.bucket if route else "?", path, dict(request.query), {})
        self.requests.append(record)
        if route is None:
            record.status = 405 if path_known else 404
            message = "405: Method Not Allowed" if path_known else "404: Not Found"
            return json_response(record.status, {"message": message, "code": 0})
        headers: dict[str, str] = {}
        try:
            if route.auth and request.headers.get("Authorization") != f"Bot {self.token}":
                raise ApiError(401, 0, "401: Unauthorized")
            headers, refused = self.limiter.check(route.bucket, self._major(params))
            if refused is not None:
                body_429, headers_429 = refused
                record.status = 429
                return json_response(429, body_429, headers_429)
            record.body = await self._body(request)
            if ARRAY in record.body and not route.takes_array:
                raise ApiError(
                    400,
                    50035,
                    "Invalid Form Body",
                    {
                        "_errors": [
                            {"code": "MODEL_TYPE_CONVERT", "message": "Only dictionaries may be used in a ModelType"}
                        ]
                    },
                )
            response = await route.handler(request, params, record.body)
        except ApiError as exc:
            record.status = exc.status
            return json_response(exc.status, exc.body(), headers)
        except Exception as exc:  # a bug in the fake: make it loud
            self.errors.append(f"{request.method} {path}: {exc!r}")
            raise
        record.status = response.status
        response.headers.update(headers)
        self.changed.set()
        if self.drop_next.get(route.bucket, 0) > 0:
            self.drop_next[route.bucket] -= 1
            if request.transport is not None:
                request.transport.close()  # the request took effect; its answer never arrives
            return response
        if (gate := self.hold.get(route.bucket)) is not None:
            self.held.set()
            await gate.wait()
        return response

    # -- gateway / identity routes ---------------------------------------------------------

    async def _get_gateway(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        return json_response(200, {"url": self.gateway_url.rstrip("/")})

    async def _get_gateway_bot(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        return json_response(
            200,
            {
                "url": self.gateway_url.rstrip("/"),
                "shards": 1,
                "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 14400000, "max_concurrency": 1},
            },
        )

    async def _get_me(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        data = self.bot.payload()
        data.update(verified=True, mfa_enabled=False, email=None, locale="en-US", bio="")
        return json_response(200, data)

    async def _get_application(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        return json_response(
            200,
            {
                "id": str(self.app_id),
                "name": "Thread Mirror",
                "icon": None,
                "description": "",
                "summary": "",
                "type": None,
                "hook": True,
                "bot_public": False,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "flags": self.app_flags,
                "owner": self.owner.payload(),
                "team": None,
                "bot": self.bot.payload(),
                "rpc_origins": [],
                "tags": [],
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "role_connections_verification_url": None,
                "approximate_guild_count": len(self.guilds),
                "integration_types_config": {"0": {}},
            },
        )

    # -- commands --------------------------------------------------------------------------

    def _app_guild(self, params: Params) -> int | None:
        if params["application_id"] != str(self.app_id):
            raise ApiError(403, 50001, "Missing Access")
        if "guild_id" not in params:
            return None
        guild_id = int(params["guild_id"])
        if guild_id not in self.guilds:
            raise missing_access()
        return guild_id

    async def _get_commands(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        return json_response(200, self.commands.get(self._app_guild(params), []))

    async def _put_commands(self, request: web.Request, params: Params, body: Any) -> web.Response:
        guild_id = self._app_guild(params)
        commands = body.get(ARRAY)
        if not isinstance(commands, list):
            raise ApiError(400, 50035, "Invalid Form Body")
        form = FormErrors()
        if len(commands) > 100:
            form.add("_root", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
        for index, command in enumerate(commands):
            check_command(form, str(index), command)
        form.raise_if_any()
        stored = []
        for command in commands:
            key = (guild_id, command["name"])
            command_id = self.command_ids.setdefault(key, self.ids.next())
            entry = {
                "id": str(command_id),
                "application_id": str(self.app_id),
                "version": str(self.ids.next()),
                "type": command.get("type", 1),
                "name": command["name"],
                "description": command.get("description", ""),
                "options": command.get("options", []),
                "default_member_permissions": None
                if command.get("default_member_permissions") is None
                else str(command["default_member_permissions"]),
                "dm_permission": command.get("dm_permission", True),
                "nsfw": command.get("nsfw", False),
                "contexts": command.get("contexts"),
                "integration_types": command.get("integration_types", [0]),
                "name_localizations": command.get("name_localizations"),
                "description_localizations": command.get("description_localizations"),
            }
            if guild_id is not None:
                entry["guild_id"] = str(guild_id)
            stored.append(entry)
        self.commands[guild_id] = stored
        return json_response(200, stored)

    # -- guilds and channels -------------------------------------------------------------

    def _guild(self, params: Params) -> Guild:
        guild = self.guilds.get(int(params["guild_id"])) if params["guild_id"].isdigit() else None
        if guild is None:
            raise unknown(UNKNOWN_GUILD)
        if self.bot.id not in guild.members:
            raise missing_access()
        return guild

    def _channel(self, params: Params, key: str = "channel_id") -> Channel:
        raw = params[key]
        channel = self.channels.get(int(raw)) if raw.isdigit() else None
        if channel is None:
            raise unknown(UNKNOWN_CHANNEL)
        if not self.permissions(self.bot.id, channel) & VIEW_CHANNEL:
            raise missing_access()
        return channel

    def _message(self, channel: Channel, raw: str) -> Message:
        message = self.messages.get(int(raw)) if raw.isdigit() else None
        if message is None or message.deleted or message.channel_id != channel.id:
            raise unknown(UNKNOWN_MESSAGE)
        return message

    def _blank_for_rest(self, message: Message) -> bool:
        content_allowed = self.app_flags & (APP_FLAG_GATEWAY_MESSAGE_CONTENT | APP_FLAG_GATEWAY_MESSAGE_CONTENT_LIMITED)
        return not content_allowed and not self._content_exempt(message)

    def _content_exempt(self, message: Message) -> bool:
        return (
            message.author.id == self.bot.id
            or any(u.id == self.bot.id for u in message.mentions)
            or message.application_id == self.app_id
        )

    def _msg_payload(self, message: Message, *, with_nonce: bool = False) -> dict[str, Any]:
        return message.payload(self, blank_content=self._blank_for_rest(message), with_nonce=with_nonce)

    async def _get_guild(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        guild = self._guild(params)
        return json_response(200, guild.payload())

    async def _get_guild_channels(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        guild = self._guild(params)
        return json_response(200, [self.channels[c].payload() for c in guild.channel_ids])

    async def _get_member(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        guild = self._guild(params)
        member = guild.members.get(int(params["user_id"])) if params["user_id"].isdigit() else None
        if member is None:
            raise unknown(UNKNOWN_MEMBER)
        return json_response(200, member.payload())

    async def _active_threads(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        guild = self._guild(params)
        threads = [
            c.payload()
            for c in self.channels.values()
            if c.is_thread
            and c.guild_id == guild.id
            and not c.archived
            and self.permissions(self.bot.id, c) & VIEW_CHANNEL
        ]
        return json_response(200, {"threads": threads, "members": []})

    async def _archived_threads(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        channel = self._channel(params)
        self._require(self.bot.id, channel, READ_MESSAGE_HISTORY)
        threads = [c for c in self.threads_in(channel.id) if c.archived]
        threads.sort(key=lambda c: c.archive_timestamp, reverse=True)
        if "before" in request.query:  # an ISO 8601 timestamp: threads archived before it
            before = datetime.fromisoformat(request.query["before"]).timestamp()
            threads = [c for c in threads if c.archive_timestamp < before]
        limit = int(request.query.get("limit", "50"))
        return json_response(
            200, {"threads": [c.payload() for c in threads[:limit]], "members": [], "has_more": len(threads) > limit}
        )

    async def _get_channel(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        return json_response(200, self._channel(params).payload())

    async def _patch_channel(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        channel = self._channel(params)
        if not channel.is_thread:
            raise missing_permissions()  # the fake only edits threads
        perms = self.permissions(self.bot.id, channel)
        form = FormErrors()
        if "name" in body:
            check_thread_name(form, "name", body["name"])
        check_auto_archive(form, "auto_archive_duration", body.get("auto_archive_duration"))
        form.raise_if_any()
        manage = bool(perms & MANAGE_THREADS) or channel.owner_id == self.bot.id
        if "locked" in body and not perms & MANAGE_THREADS:
            raise missing_permissions()
        if body.get("archived") is False and channel.archived:
            if channel.locked and not perms & MANAGE_THREADS:
                raise missing_permissions()
            if not perms & SEND_MESSAGES_IN_THREADS:
                raise missing_permissions()
        elif channel.archived and set(body) - {"archived", "locked"}:
            raise archived_thread()
        if "name" in body and not manage:
            raise missing_permissions()
        if "archived" in body:
            channel.archived = bool(body["archived"])
            channel.archive_timestamp = time.time()
        if "locked" in body:
            channel.locked = bool(body["locked"])
        if "name" in body:
            channel.name = body["name"]
        if "auto_archive_duration" in body:
            channel.auto_archive_duration = body["auto_archive_duration"]
        await self._dispatch_thread("THREAD_UPDATE", channel)
        return json_response(200, channel.payload())

    # -- messages ------------------------------------------------------------------------

    async def _list_messages(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        channel = self._channel(params)
        self._require(self.bot.id, channel)
        if not self.permissions(self.bot.id, channel) & READ_MESSAGE_HISTORY:
            return json_response(200, [])  # Discord answers an empty list without Read Message History
        query = request.query
        try:
            limit = int(query.get("limit", "50"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            form = FormErrors()
            form.add("limit", "NUMBER_TYPE_MAX", "Int value should be between 1 and 100.")
            form.raise_if_any()
        messages = self.channel_messages(channel.id, system=True)
        if "after" in query:
            after = int(query["after"])
            chosen = [m for m in messages if m.id > after][:limit]
        elif "around" in query:
            around = int(query["around"])
            older = [m for m in messages if m.id <= around][-(limit // 2 + 1) :]
            newer = [m for m in messages if m.id > around][: limit - len(older)]
            chosen = older + newer
        else:
            before = int(query.get("before", str(1 << 63)))
            chosen = [m for m in messages if m.id < before][-limit:]
        chosen.reverse()  # newest first, always
        return json_response(200, [self._msg_payload(m) for m in chosen])

    async def _get_message(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        channel = self._channel(params)
        self._require(self.bot.id, channel, READ_MESSAGE_HISTORY)
        return json_response(200, self._msg_payload(self._message(channel, params["message_id"])))

    def _check_sendable(self, channel: Channel, user_id: int) -> None:
        if channel.type == GUILD_FORUM:
            raise ApiError(400, 50008, "Cannot send messages in a non-text channel")
        if channel.is_thread:
            self._require(user_id, channel, SEND_MESSAGES_IN_THREADS)
            if channel.archived:
                raise archived_thread()
        else:
            self._require(user_id, channel, SEND_MESSAGES)

    def _reference(self, channel: Channel, body: dict[str, Any]) -> dict[str, Any] | None:
        ref = body.get("message_reference")
        if not ref:
            return None
        target_channel = int(ref.get("channel_id") or channel.id)
        target = self.messages.get(int(ref["message_id"]))
        if target is None or target.deleted or target.channel_id != target_channel:
            if ref.get("fail_if_not_exists", True):
                form = FormErrors()
                form.add("message_reference", "REPLIES_UNKNOWN_MESSAGE", "Unknown message")
                form.raise_if_any()
            return None
        return {
            "type": 0,
            "message_id": str(target.id),
            "channel_id": str(target.channel_id),
            "guild_id": str(channel.guild_id),
        }

    async def _create_message(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        channel = self._channel(params)
        self._check_sendable(channel, self.bot.id)
        form = FormErrors()
        check_message_body(body, form)
        form.raise_if_any()
        if message_is_empty(body):
            raise empty_message()
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            key = (channel.id, self.bot.id, str(nonce))
            seen = self.nonces.get(key)
            if seen is not None and time.monotonic() - seen[1] < NONCE_WINDOW and seen[0] in self.messages:
                return json_response(200, self._msg_payload(self.messages[seen[0]], with_nonce=True))
        reference = self._reference(channel, body)
        message = await self.post_message(
            channel,
            self.bot,
            body.get("content") or "",
            reference=reference,
            nonce=str(nonce) if nonce is not None else None,
            allowed_mentions=body.get("allowed_mentions"),
            flags=int(body.get("flags") or 0),
        )
        if nonce is not None and body.get("enforce_nonce"):
            self.nonces[(channel.id, self.bot.id, str(nonce))] = (message.id, time.monotonic())
        return json_response(200, self._msg_payload(message, with_nonce=True))

    async def _edit_message(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        channel = self._channel(params)
        message = self._message(channel, params["message_id"])
        if (message.author.id != self.bot.id or message.webhook_id) and set(body) - {"flags"}:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        if channel.is_thread and channel.archived:
            raise archived_thread()
        form = FormErrors()
        check_message_body(body, form)
        form.raise_if_any()
        await self.update_message(message, body.get("content", message.content), body.get("allowed_mentions"))
        return json_response(200, self._msg_payload(message))

    async def _delete_message(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        channel = self._channel(params)
        message = self._message(channel, params["message_id"])
        own = message.author.id == self.bot.id and not message.webhook_id
        if not own:
            self._require(self.bot.id, channel, MANAGE_MESSAGES)
        if channel.is_thread and channel.archived:
            raise archived_thread()
        await self.remove_message(message)
        return no_content()

    # -- threads ---------------------------------------------------------------------------

    def _new_thread(
        self, parent: Channel, name: str, owner: User, auto_archive: int | None, thread_id: int | None = None
    ) -> Channel:
        thread = Channel(
            thread_id or self.ids.next(),
            parent.guild_id,
            PUBLIC_THREAD,
            name,
            parent_id=parent.id,
            owner_id=owner.id,
            auto_archive_duration=auto_archive or 1440,
        )
        self.channels[thread.id] = thread
        return thread

    async def _thread_from_message(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        channel = self._channel(params)
        if channel.type != GUILD_TEXT:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        self._require(self.bot.id, channel, CREATE_PUBLIC_THREADS, READ_MESSAGE_HISTORY)
        message = self._message(channel, params["message_id"])
        form = FormErrors()
        check_thread_name(form, "name", body.get("name"))
        check_auto_archive(form, "auto_archive_duration", body.get("auto_archive_duration"))
        form.raise_if_any()
        if message.thread_id is not None:
            raise ApiError(400, 160004, "A thread has already been created for this message")
        thread = self._new_thread(
            channel, body["name"], self.bot, body.get("auto_archive_duration"), thread_id=message.id
        )
        message.thread_id = thread.id
        # A thread started from a message shows that message as its first, system-typed message.
        starter = Message(
            self.ids.next(),
            thread.id,
            thread.guild_id,
            self.bot,
            "",
            type=THREAD_STARTER_MESSAGE,
            reference={"message_id": str(message.id), "channel_id": str(channel.id), "guild_id": str(channel.guild_id)},
        )
        self.messages[starter.id] = starter
        await self._dispatch_thread("THREAD_CREATE", thread, newly_created=True)
        await self._dispatch_message("MESSAGE_UPDATE", message)
        return json_response(201, thread.payload())

    async def _create_thread(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        channel = self._channel(params)
        form = FormErrors()
        check_thread_name(form, "name", body.get("name"))
        check_auto_archive(form, "auto_archive_duration", body.get("auto_archive_duration"))
        if channel.type == GUILD_FORUM:
            first = body.get("message")
            if not isinstance(first, dict):
                form.add("message", "BASE_TYPE_REQUIRED", "This field is required")
            else:
                check_message_body(first, form, "message.")
            form.raise_if_any()
            assert isinstance(first, dict)
            self._require(self.bot.id, channel, SEND_MESSAGES)
            if message_is_empty(first):
                raise empty_message()
            thread = self._new_thread(channel, body["name"], self.bot, body.get("auto_archive_duration"))
            await self._dispatch_thread("THREAD_CREATE", thread, newly_created=True)
            # A forum post's first message has the thread's id.
            message = await self.post_message(
                thread,
                self.bot,
                first.get("content") or "",
                message_id=thread.id,
                allowed_mentions=first.get("allowed_mentions"),
                check=False,
            )
            data = thread.payload()
            data["message"] = self._msg_payload(message)
            return json_response(201, data)
        if channel.type != GUILD_TEXT:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        form.raise_if_any()
        if body.get("type", 12) != PUBLIC_THREAD:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        self._require(self.bot.id, channel, CREATE_PUBLIC_THREADS)
        thread = self._new_thread(channel, body["name"], self.bot, body.get("auto_archive_duration"))
        await self._dispatch_thread("THREAD_CREATE", thread, newly_created=True)
        return json_response(201, thread.payload())

    # -- webhooks --------------------------------------------------------------------------

    async def _create_webhook(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        channel = self._channel(params)
        if channel.is_thread or channel.type not in (GUILD_TEXT, GUILD_FORUM):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        self._require(self.bot.id, channel, MANAGE_WEBHOOKS)
        form = FormErrors()
        check_webhook_name(form, "name", str(body.get("name", "")))
        form.raise_if_any()
        if sum(1 for w in self.webhooks.values() if w.channel_id == channel.id) >= 15:
            raise ApiError(400, 30007, "Maximum number of webhooks reached (15)")
        hook = Webhook(
            self.ids.next(),
            secrets.token_urlsafe(48),
            channel.id,
            channel.guild_id,
            body["name"],
            self.bot,
            self.app_id,
        )
        self.webhooks[hook.id] = hook
        await self.dispatch(
            "WEBHOOKS_UPDATE", {"guild_id": str(channel.guild_id), "channel_id": str(channel.id)}, 1 << 5
        )
        return json_response(200, hook.payload())

    async def _channel_webhooks(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        channel = self._channel(params)
        self._require(self.bot.id, channel, MANAGE_WEBHOOKS)
        return json_response(200, [w.payload() for w in self.webhooks.values() if w.channel_id == channel.id])

    def _webhook(self, params: Params, with_token: bool) -> Webhook:
        raw = params["webhook_id"]
        hook = self.webhooks.get(int(raw)) if raw.isdigit() else None
        if hook is None or (with_token and hook.token != params["webhook_token"]):
            raise unknown(UNKNOWN_WEBHOOK)
        return hook

    async def _get_webhook(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        hook = self._webhook(params, False)
        self._require(self.bot.id, self.channels[hook.channel_id], MANAGE_WEBHOOKS)
        return json_response(200, hook.payload())

    async def _delete_webhook(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        hook = self._webhook(params, False)
        self._require(self.bot.id, self.channels[hook.channel_id], MANAGE_WEBHOOKS)
        del self.webhooks[hook.id]
        return no_content()

    async def _get_webhook_with_token(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        hook = self._webhook(params, True)
        data = hook.payload()
        data.pop("user")
        return json_response(200, data)

    def _webhook_target(self, hook: Webhook, request: web.Request) -> Channel:
        channel = self.channels[hook.channel_id]
        raw = request.query.get("thread_id")
        if raw is None:
            if channel.type == GUILD_FORUM:
                raise ApiError(400, 220001, "Webhooks posted to forum channels must have a thread_name or thread_id")
            return channel
        thread = self.channels.get(int(raw)) if raw.isdigit() else None
        if thread is None or not thread.is_thread:
            raise unknown(UNKNOWN_CHANNEL)
        if thread.parent_id != hook.channel_id:
            raise ApiError(400, 220003, "Webhook can only post in threads of its own channel")
        return thread

    async def _execute_webhook(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        if params["webhook_id"] == str(self.app_id):
            return await self._followup(request, params, body)
        hook = self._webhook(params, True)
        target = self._webhook_target(hook, request)
        form = FormErrors()
        check_message_body(body, form)
        username = body.get("username")
        if username is not None:
            check_webhook_name(form, "username", str(username))
        avatar = body.get("avatar_url")
        if avatar is not None and not re.match(r"^https?://\S+$", str(avatar)):
            form.add("avatar_url", "URL_TYPE_INVALID_URL", "Not a well formed URL.")
        form.raise_if_any()
        if message_is_empty(body):
            raise empty_message()
        if target.is_thread and target.archived:
            raise archived_thread()
        message = await self.post_message(
            target,
            self.bot,
            body.get("content") or "",
            webhook=hook,
            username=str(username) if username else hook.name,
            avatar_url=str(avatar) if avatar else None,
            allowed_mentions=body.get("allowed_mentions"),
            flags=int(body.get("flags") or 0),
            check=False,
        )
        if request.query.get("wait", "false").lower() in ("true", "1"):
            return json_response(200, self._msg_payload(message))
        return no_content()

    def _webhook_message(self, hook: Webhook, params: Params, request: web.Request) -> Message:
        raw = params["message_id"]
        message = self.messages.get(int(raw)) if raw.isdigit() else None
        if message is None or message.deleted or message.webhook_id != hook.id:
            raise unknown(UNKNOWN_MESSAGE)
        thread_id = request.query.get("thread_id")
        if (message.channel_id != hook.channel_id) and str(message.channel_id) != thread_id:
            raise unknown(UNKNOWN_MESSAGE)  # a message in a thread needs ?thread_id=
        return message

    async def _get_webhook_message(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        if params["webhook_id"] == str(self.app_id):
            message = self._interaction_message(params)
            return json_response(200, message.payload(self))
        hook = self._webhook(params, True)
        return json_response(200, self._msg_payload(self._webhook_message(hook, params, request)))

    async def _edit_webhook_message(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        form = FormErrors()
        check_message_body(body, form)
        form.raise_if_any()
        if params["webhook_id"] == str(self.app_id):
            message = self._interaction_message(params)
            message.content = body.get("content", message.content)
            message.flags &= ~(1 << 7)  # no longer "loading"
            self.changed.set()
            return json_response(200, message.payload(self))
        hook = self._webhook(params, True)
        message = self._webhook_message(hook, params, request)
        channel = self.channels[message.channel_id]
        if channel.is_thread and channel.archived:
            raise archived_thread()
        await self.update_message(message, body.get("content", message.content), body.get("allowed_mentions"))
        return json_response(200, self._msg_payload(message))

    async def _delete_webhook_message(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        if params["webhook_id"] == str(self.app_id):
            message = self._interaction_message(params)
            message.deleted = True
            return no_content()
        hook = self._webhook(params, True)
        message = self._webhook_message(hook, params, request)
        channel = self.channels[message.channel_id]
        if channel.is_thread and channel.archived:
            raise archived_thread()
        await self.remove_message(message)
        return no_content()

    # -- interactions ------------------------------------------------------------------

    def _interaction_by_token(self, token: str) -> Interaction:
        for interaction in self.interactions.values():
            if interaction.token == token:
                return interaction
        raise unknown(UNKNOWN_WEBHOOK)

    def _interaction_message(self, params: Params) -> Message:
        interaction = self._interaction_by_token(params["webhook_token"])
        if params["message_id"] == "@original":
            if interaction.original is None:
                raise unknown(UNKNOWN_MESSAGE)
            return interaction.original
        for message in interaction.followups:
            if str(message.id) == params["message_id"]:
                return message
        raise unknown(UNKNOWN_MESSAGE)

    async def _interaction_callback(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        raw = params["interaction_id"]
        interaction = self.interactions.get(int(raw)) if raw.isdigit() else None
        if interaction is None or interaction.token != params["interaction_token"]:
            raise unknown(UNKNOWN_INTERACTION)
        if time.monotonic() - interaction.created > INTERACTION_ACK_DEADLINE:
            raise unknown(UNKNOWN_INTERACTION)  # Discord forgets an interaction not answered within 3 s
        if interaction.acknowledged:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        kind = body.get("type")
        data = body.get("data") or {}
        form = FormErrors()
        if kind == 8:
            if interaction.type != 4:
                raise ApiError(400, 50035, "Invalid Form Body")
            check_choices(form, data.get("choices"))
        elif kind in (4, 5):
            if interaction.type != 2:
                raise ApiError(400, 40043, "Interaction type not supported for this response")
            check_message_body(data, form, "data.")
            if kind == 4 and message_is_empty(data):
                raise empty_message()
        else:
            form.add("type", "BASE_TYPE_CHOICES", "Value must be one of {4, 5, 8}.")
        form.raise_if_any()
        interaction.callbacks.append(body)
        self.changed.set()
        result: dict[str, Any] = {
            "interaction": {
                "id": str(interaction.id),
                "type": interaction.type,
                "activity_instance_id": None,
                "response_message_id": None,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(int(data.get("flags") or 0) & EPHEMERAL),
            }
        }
        if kind in (4, 5):
            flags = int(data.get("flags") or 0) | ((1 << 7) if kind == 5 else 0)
            original = Message(
                self.ids.next(),
                interaction.channel_id,
                interaction.guild_id,
                self.bot,
                data.get("content") or "" if kind == 4 else "",
                application_id=self.app_id,
                flags=flags,
                interaction_id=interaction.id,
                type=20,
            )
            interaction.original = original
            result["interaction"]["response_message_id"] = str(original.id)
            result["resource"] = {"type": kind, "message": original.payload(self)}
        if request.query.get("with_response", "false").lower() in ("true", "1"):
            return json_response(200, result)
        return no_content()

    async def _followup(self, request: web.Request, params: Params, body: dict[str, Any]) -> web.Response:
        interaction = self._interaction_by_token(params["webhook_token"])
        if not interaction.acknowledged:
            raise unknown(UNKNOWN_WEBHOOK)  # a followup needs an acknowledged interaction
        form = FormErrors()
        check_message_body(body, form)
        form.raise_if_any()
        if message_is_empty(body):
            raise empty_message()
        flags = int(body.get("flags") or 0)
        if interaction.original is not None and interaction.original.flags & (1 << 7) and not interaction.followups:
            # the first followup after a deferral replaces the "thinking" message
            message = interaction.original
            message.content = body.get("content") or ""
            message.flags = (message.flags & ~(1 << 7)) | (flags & EPHEMERAL) | (message.flags & EPHEMERAL)
            interaction.followups.append(message)
            interaction.original = None
        else:
            message = Message(
                self.ids.next(),
                interaction.channel_id,
                interaction.guild_id,
                self.bot,
                body.get("content") or "",
                application_id=self.app_id,
                flags=flags,
                interaction_id=interaction.id,
            )
            interaction.followups.append(message)
        self.changed.set()
        return json_response(200, message.payload(self))

    # -- doing things (used by routes and by tests acting as Discord users) ------------

    async def post_message(
        self,
        channel: Channel,
        author: User,
        content: str,
        *,
        reference: dict[str, Any] | None = None,
        nonce: str | None = None,
        webhook: Webhook | None = None,
        username: str | None = None,
        avatar_url: str | None = None,
        allowed_mentions: dict[str, Any] | None = None,
        flags: int = 0,
        message_id: int | None = None,
        check: bool = True,
    ) -> Message:
        if check and channel.is_thread and channel.archived:
            raise archived_thread()
        message = Message(
            message_id or self.ids.next(),
            channel.id,
            channel.guild_id,
            author,
            content,
            type=REPLY if reference else 0,
            webhook_id=webhook.id if webhook else None,
            webhook_name=username,
            avatar_url=avatar_url,
            application_id=webhook.application_id if webhook else None,
            nonce=nonce,
            reference=reference,
            allowed_mentions=allowed_mentions,
            flags=flags,
        )
        self.messages[message.id] = message
        channel.last_message_id = message.id
        if channel.is_thread:
            channel.message_count += 1
            channel.total_message_sent += 1
        self.changed.set()
        await self._dispatch_message("MESSAGE_CREATE", message)
        return message

    async def update_message(
        self,
        message: Message,
        content: str,
        allowed_mentions: dict[str, Any] | None = None,
        *,
        dispatch: bool = True,
    ) -> None:
        message.history.append(message.content)
        message.content = content
        message.edited_timestamp = time.time()
        if allowed_mentions is not None:
            message.allowed_mentions = allowed_mentions
        self.changed.set()
        if dispatch:
            await self._dispatch_message("MESSAGE_UPDATE", message)

    async def remove_message(self, message: Message, *, dispatch: bool = True) -> None:
        message.deleted = True
        channel = self.channels[message.channel_id]
        if channel.is_thread:
            channel.message_count = max(0, channel.message_count - 1)
        self.changed.set()
        if not dispatch:
            return
        await self.dispatch(
            "MESSAGE_DELETE",
            {"id": str(message.id), "channel_id": str(message.channel_id), "guild_id": str(message.guild_id)},
            INTENT_GUILD_MESSAGES,
        )

    async def user_says(
        self,
        member: Member,
        channel: Channel,
        content: str,
        reply_to: Message | None = None,
        *,
        announce_unarchive: bool = True,
        dispatch: bool = True,
    ) -> Message:
        """A member writes in a channel or thread (as the Discord client would: it unarchives first).

        `dispatch=False` stores it without a gateway event, as if the bot's session missed it."""
        self._check_sendable_member(member, channel)
        if channel.is_thread and channel.archived and not channel.locked:
            channel.archived = False
            if announce_unarchive and dispatch:
                await self._dispatch_thread("THREAD_UPDATE", channel)
        reference = None
        if reply_to is not None:
            reference = {
                "type": 0,
                "message_id": str(reply_to.id),
                "channel_id": str(reply_to.channel_id),
                "guild_id": str(channel.guild_id),
            }
        mentions = [reply_to.author] if reply_to is not None and not reply_to.webhook_id else []
        guild = self.guilds[channel.guild_id]
        for user_id in re.findall(r"<@!?(\d+)>", content):  # Discord parses user mentions out of the text
            mentioned = guild.members.get(int(user_id))
            if mentioned is not None and mentioned.user not in mentions:
                mentions.append(mentioned.user)
        return await self._post_member_message(member, channel, content, reference, mentions, dispatch)

    def _check_sendable_member(self, member: Member, channel: Channel) -> None:
        needed = SEND_MESSAGES_IN_THREADS if channel.is_thread else SEND_MESSAGES
        if not self.permissions(member.user.id, channel) & needed:
            raise AssertionError(f"{member.display_name} may not write in {channel.name}")

    async def _post_member_message(
        self,
        member: Member,
        channel: Channel,
        content: str,
        reference: dict[str, Any] | None,
        mentions: list[User],
        dispatch: bool = True,
    ) -> Message:
        message = Message(
            self.ids.next(),
            channel.id,
            channel.guild_id,
            member.user,
            content,
            type=REPLY if reference else 0,
            reference=reference,
            mentions=mentions,
        )
        self.messages[message.id] = message
        channel.last_message_id = message.id
        if channel.is_thread:
            channel.message_count += 1
            channel.total_message_sent += 1
        self.changed.set()
        if dispatch:
            await self._dispatch_message("MESSAGE_CREATE", message)
        return message

    async def user_edits(self, message: Message, content: str, *, dispatch: bool = True) -> None:
        await self.update_message(message, content, dispatch=dispatch)

    async def user_deletes(self, message: Message, *, dispatch: bool = True) -> None:
        await self.remove_message(message, dispatch=dispatch)

    async def archive(self, thread: Channel, locked: bool = False) -> None:
        thread.archived = True
        thread.locked = locked
        thread.archive_timestamp = time.time()
        await self._dispatch_thread("THREAD_UPDATE", thread)

    # -- slash commands as a member uses them --------------------------------------------

    def _command(self, guild: Guild, name: str) -> dict[str, Any]:
        for command in self.commands.get(guild.id, []) + self.commands.get(None, []):
            if command["name"] == name:
                return command
        raise AssertionError(f"/{name} was not synced to guild {guild.id}")

    def _build_options(
        self, guild: Guild, defs: list[dict[str, Any]], values: dict[str, Any], focused: str | None
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        options: list[dict[str, Any]] = []
        resolved: dict[str, Any] = {}
        known = {d["name"]: d for d in defs}
        for key, value in values.items():
            spec = known.get(key)
            if spec is None:
                raise AssertionError(f"no option {key!r} (options: {sorted(known)})")
            option: dict[str, Any] = {"name": key, "type": spec["type"]}
            if spec["type"] == 7:  # CHANNEL
                channel = value if isinstance(value, Channel) else self.channels[int(value)]
                option["value"] = str(channel.id)
                data = channel.payload()
                data["permissions"] = str(self.permissions(self.bot.id, channel))
                resolved.setdefault("channels", {})[str(channel.id)] = data
            else:
                option["value"] = value
            if key == focused:
                option["focused"] = True
            options.append(option)
        return options, resolved

    async def invoke(
        self,
        member: Member,
        channel: Channel,
        command: str,
        subcommand: str | None = None,
        options: dict[str, Any] | None = None,
        *,
        focused: str | None = None,
    ) -> Interaction:
        """A member runs a slash command (or, with `focused`, types into an autocompleted option)."""
        guild = self.guilds[channel.guild_id]
        spec = self._command(guild, command)
        defs = spec.get("options") or []
        data: dict[str, Any] = {"id": spec["id"], "name": command, "type": 1, "guild_id": str(guild.id)}
        if subcommand is not None:
            sub = next((o for o in defs if o["name"] == subcommand and o["type"] == 1), None)
            if sub is None:
                raise AssertionError(f"/{command} has no subcommand {subcommand}")
            inner, resolved = self._build_options(guild, sub.get("options") or [], options or {}, focused)
            data["options"] = [{"name": subcommand, "type": 1, "options": inner}]
        else:
            data["options"], resolved = self._build_options(guild, defs, options or {}, focused)
        if resolved:
            data["resolved"] = resolved
        kind = 4 if focused else 2
        interaction = Interaction(
            self.ids.next(),
            "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(60),
            kind,
            guild.id,
            channel.id,
            member.user,
            data,
        )
        self.interactions[interaction.id] = interaction
        perms = self.permissions(member.user.id, channel)
        member_data = member.payload()
        member_data["permissions"] = str(perms)
        channel_data = channel.payload()
        channel_data["permissions"] = str(perms)
        payload = {
            "id": str(interaction.id),
            "application_id": str(self.app_id),
            "type": kind,
            "data": data,
            "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
            "guild_id": str(guild.id),
            "channel": channel_data,
            "channel_id": str(channel.id),
            "member": member_data,
            "token": interaction.token,
            "version": 1,
            "app_permissions": str(self.permissions(self.bot.id, channel)),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": 10485760,
        }
        await self.dispatch("INTERACTION_CREATE", payload, 0)
        return interaction

    def command_permissions_allow(self, member: Member, channel: Channel, command: str) -> bool:
        """Would Discord show this command to the member (default_member_permissions)?"""
        spec = self._command(self.guilds[channel.guild_id], command)
        needed = spec.get("default_member_permissions")
        if needed is None:
            return True
        perms = self.permissions(member.user.id, channel)
        return perms & ADMINISTRATOR != 0 or (perms & int(needed)) == int(needed)

    # -- the gateway -------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=4096 * 1024)
        if not ws.can_prepare(request).ok:
            return json_response(404, {"message": "404: Not Found", "code": 0})
        await ws.prepare(request)
        query = request.query
        compress = query.get("compress")
        conn = GatewayConnection(ws, compress == "zlib-stream")
        self.connections.add(conn)
        try:
            if query.get("v") != "10":
                await ws.close(code=4012, message=b"Invalid API version")
                return ws
            if query.get("encoding", "json") != "json" or compress not in (None, "zlib-stream"):
                await ws.close(code=4002, message=b"Decode error")
                return ws
            await conn.send(
                {"op": 10, "d": {"heartbeat_interval": int(self.heartbeat_interval * 1000)}, "s": None, "t": None}
            )
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    await ws.close(code=4002, message=b"Decode error")
                    break
                try:
                    payload = json.loads(msg.data)
                except ValueError:
                    await ws.close(code=4002, message=b"Decode error")
                    break
                await self._gateway_op(conn, payload)
        finally:
            self.connections.discard(conn)
            session = conn.session
            if session is not None and session.conn is conn:
                session.conn = None
                if ws.close_code in (1000, 1001):
                    session.resumable = False  # a clean close by the client ends the session
        return ws

    async def _gateway_op(self, conn: GatewayConnection, payload: dict[str, Any]) -> None:
        op = payload.get("op")
        data = payload.get("d")
        if op == 1:
            conn.heartbeats += 1
            await conn.send({"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            await self._identify(conn, data or {})
        elif op == 6:
            await self._resume(conn, data or {})
        elif op in (3, 4, 8, 31):
            pass  # presence, voice state, request guild members, request soundboard sounds
        else:
            await conn.ws.close(code=4001, message=b"Unknown opcode")

    async def _identify(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        if conn.session is not None:
            await conn.ws.close(code=4005, message=b"Already authenticated")
            return
        self.identifies.append(data)
        if data.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed")
            return
        intents = data.get("intents")
        if not isinstance(intents, int) or intents < 0 or intents >= 1 << 26:
            await conn.ws.close(code=4013, message=b"Invalid intent(s)")
            return
        allowed_privileged = (
            INTENT_MESSAGE_CONTENT
            if self.app_flags & (APP_FLAG_GATEWAY_MESSAGE_CONTENT | APP_FLAG_GATEWAY_MESSAGE_CONTENT_LIMITED)
            else 0
        )
        if intents & PRIVILEGED_INTENTS & ~allowed_privileged:
            await conn.ws.close(code=4014, message=b"Disallowed intent(s)")
            return
        session = GatewaySession(uuid.uuid4().hex, intents, conn=conn)
        self.sessions[session.id] = session
        conn.session = session
        guilds = [g for g in self.guilds.values() if self.bot.id in g.members]
        await self._send_to(
            session,
            "READY",
            {
                "v": 10,
                "user": self.bot.payload(),
                "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
                "session_id": session.id,
                "session_type": "normal",
                "resume_gateway_url": self.gateway_url.rstrip("/"),
                "application": {"id": str(self.app_id), "flags": self.app_flags},
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "geo_ordered_rtc_regions": [],
                "guild_join_requests": [],
                "user_settings": {},
                "_trace": ["fake-discord"],
            },
        )
        for guild in guilds:
            if intents & INTENT_GUILDS:
                await self._send_to(session, "GUILD_CREATE", self._guild_create(guild))

    def _guild_create(self, guild: Guild) -> dict[str, Any]:
        data = guild.payload()
        visible = [
            self.channels[c]
            for c in guild.channel_ids
            if self.permissions(self.bot.id, self.channels[c]) & VIEW_CHANNEL
        ]
        threads = [
            c.payload()
            for c in self.channels.values()
            if c.is_thread
            and c.guild_id == guild.id
            and not c.archived
            and self.permissions(self.bot.id, c) & VIEW_CHANNEL
        ]
        data.update(
            joined_at=iso(guild.members[self.bot.id].joined_at),
            large=False,
            unavailable=False,
            member_count=len(guild.members),
            voice_states=[],
            members=[guild.members[self.bot.id].payload()],
            channels=[c.payload() for c in visible],
            threads=threads,
            presences=[],
            stage_instances=[],
            guild_scheduled_events=[],
            soundboard_sounds=[],
        )
        return data

    async def _resume(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        if data.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed")
            return
        if session is None or not session.resumable or session.conn is not None:
            await conn.send({"op": 9, "d": False, "s": None, "t": None})
            return
        self.resumes += 1
        session.conn = conn
        conn.session = session
        seq = int(data.get("seq") or 0)
        for event in [e for e in session.buffer if e["s"] > seq]:
            await conn.send(event)
        await self._send_to(session, "RESUMED", {"_trace": ["fake-discord"]})

    async def _send_to(self, session: GatewaySession, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        payload = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.buffer.append(payload)
        del session.buffer[:-1000]
        if session.conn is not None:
            await session.conn.send(payload)

    async def dispatch(
        self,
        event: str,
        data: dict[str, Any],
        intent: int,
        builder: Callable[[GatewaySession], dict[str, Any]] | None = None,
    ) -> None:
        for session in list(self.sessions.values()):
            if not session.resumable:
                continue
            if intent and not session.intents & intent:
                continue
            await self._send_to(session, event, builder(session) if builder else data)

    async def _dispatch_message(self, event: str, message: Message) -> None:
        def build(session: GatewaySession) -> dict[str, Any]:
            blank = not session.intents & INTENT_MESSAGE_CONTENT and not self._content_exempt(message)
            data = message.payload(self, blank_content=blank, with_nonce=event == "MESSAGE_CREATE")
            data["guild_id"] = str(message.guild_id)
            guild = self.guilds[message.guild_id]
            member = guild.members.get(message.author.id)
            if member is not None and not message.webhook_id:
                data["member"] = member.payload(with_user=False)
            for mention in data["mentions"]:  # in guilds, each mentioned user comes with its member
                mentioned = guild.members.get(int(mention["id"]))
                if mentioned is not None:
                    mention["member"] = mentioned.payload(with_user=False)
            return data

        await self.dispatch(event, {}, INTENT_GUILD_MESSAGES, build)

    async def _dispatch_thread(self, event: str, thread: Channel, newly_created: bool = False) -> None:
        data = thread.payload()
        if newly_created:
            data["newly_created"] = True
        await self.dispatch(event, data, INTENT_GUILDS)

    async def gateway_reconnect(self) -> None:
        """Ask every connected client to reconnect (op 7); discord.py then RESUMEs its session."""
        for conn in list(self.connections):
            await conn.send({"op": 7, "d": None, "s": None, "t": None})

    async def gateway_drop(self) -> None:
        """Cut every gateway connection abnormally (as a network fault would)."""
        for conn in list(self.connections):
            await conn.ws.close(code=4000, message=b"Unknown error")

    async def gateway_invalidate(self) -> None:
        """End every session (op 9 Invalid Session, `d: false`): clients IDENTIFY anew and get a
        new READY; nothing the old sessions missed is replayed."""
        for session in self.sessions.values():
            session.resumable = False
        for conn in list(self.connections):
            await conn.send({"op": 9, "d": False, "s": None, "t": None})
