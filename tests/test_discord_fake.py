"""The fake Discord itself: it must answer like Discord does, or the adapter's tests prove nothing.

Raw HTTP and websocket checks pin the wire format (status codes, JSON error bodies, the exact
Content-Type, rate-limit headers, gateway opcodes with zlib-stream compression); the
discord.py checks show the real library accepts what the fake serves.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest

from tests.fake_discord import FakeDiscord
from tests.fake_discord import server as fake_server
from tests.fake_discord.model import GUILD_FORUM, MANAGE_WEBHOOKS, Channel
from tests.fake_discord.support import ErrorWatch, watch_errors

BOT_MESSAGE = "POST channels/{channel_id}/messages"


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    with server.patch_discord_py():
        yield server
    await server.stop()
    assert not server.errors, server.errors


@pytest.fixture
async def http(fake: FakeDiscord) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(
        base_url=f"http://127.0.0.1:{fake.port}", headers={"Authorization": f"Bot {fake.token}"}
    ) as session:
        yield session


@pytest.fixture
async def errors() -> AsyncIterator[ErrorWatch]:
    async with watch_errors() as watch:
        yield watch
    assert not watch.unexpected(), "\n".join(watch.unexpected())


async def call(
    http: aiohttp.ClientSession, method: str, path: str, body: Any = None, **kwargs: Any
) -> tuple[int, Any, Any]:
    async with http.request(method, "/api/v10/" + path, json=body, **kwargs) as resp:
        text = await resp.text()
        return resp.status, (json.loads(text) if text else None), resp.headers


def world(fake: FakeDiscord) -> tuple[Any, Channel, Channel]:
    guild = fake.add_guild()
    return guild, fake.add_channel(guild, "text"), fake.add_channel(guild, "forum", GUILD_FORUM)


# -- REST ---------------------------------------------------------------------------------


async def test_unknown_routes_are_404_json_with_the_exact_content_type(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    for path in ("nope", "channels/1/pins/2/sideways", "users/@me/whatever"):
        status, body, headers = await call(http, "GET", path)
        assert (status, body) == (404, {"message": "404: Not Found", "code": 0})
        assert headers["Content-Type"] == "application/json"  # no charset: discord.py compares the string
    status, body, _ = await call(http, "DELETE", "users/@me")
    assert (status, body["message"]) == (405, "405: Method Not Allowed")
    async with http.get("/api/v9/users/@me") as resp:
        assert resp.status == 404
    status, body, _ = await call(http, "GET", "channels/123")
    assert (status, body["code"]) == (404, 10003)


async def test_authentication_and_permissions(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
    guild, text, _ = world(fake)
    async with http.get("/api/v10/users/@me", headers={"Authorization": "Bot wrong"}) as resp:
        assert resp.status == 401 and (await resp.json())["message"] == "401: Unauthorized"
    fake.deny(text, fake.bot_role(guild).id, MANAGE_WEBHOOKS)
    status, body, _ = await call(http, "POST", f"channels/{text.id}/webhooks", {"name": "Thread Mirror"})
    assert (status, body["code"]) == (403, 50013)


async def test_payloads_over_discords_limits_are_400(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
    guild, text, forum = world(fake)
    status, body, _ = await call(http, "POST", f"channels/{text.id}/messages", {"content": "x" * 2001})
    assert (status, body["code"]) == (400, 50035)
    assert body["errors"]["content"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    status, body, _ = await call(
        http, "POST", f"channels/{text.id}/messages", {"content": "x" * 2000, "nonce": "n" * 26}
    )
    assert (status, list(body["errors"])) == (400, ["nonce"])
    status, body, _ = await call(http, "POST", f"channels/{text.id}/messages", {"content": ""})
    assert (status, body["code"]) == (400, 50006)
    status, body, _ = await call(
        http,
        "POST",
        f"channels/{text.id}/messages",
        {"content": "hi", "allowed_mentions": {"parse": ["users"], "users": ["1"]}},
    )
    assert status == 400
    status, message, _ = await call(http, "POST", f"channels/{text.id}/messages", {"content": "starter"})
    assert status == 200
    status, body, _ = await call(
        http, "POST", f"channels/{text.id}/messages/{message['id']}/threads", {"name": "t" * 101}
    )
    assert (status, list(body["errors"])) == (400, ["name"])
    status, hook, _ = await call(http, "POST", f"channels/{text.id}/webhooks", {"name": "Thread Mirror"})
    assert status == 200
    execute = f"webhooks/{hook['id']}/{hook['token']}"
    for username in ("Discord fan", "clyde", "x" * 81, "   "):
        status, body, _ = await call(http, "POST", execute, {"content": "hi", "username": username})
        assert (status, list(body["errors"])) == (400, ["username"]), username
    status, _, _ = await call(http, "POST", execute, {"content": "hi", "username": "x" * 80})
    assert status == 204  # without ?wait=true there is no body
    status, body, _ = await call(http, "POST", f"channels/{forum.id}/webhooks", {"name": "Discord hook"})
    assert status == 400
    status, forum_hook, _ = await call(http, "POST", f"channels/{forum.id}/webhooks", {"name": "Thread Mirror"})
    status, body, _ = await call(http, "POST", f"webhooks/{forum_hook['id']}/{forum_hook['token']}", {"content": "hi"})
    assert (status, body["code"]) == (400, 220001)
    too_long = [{"name": "mirror", "description": "d" * 101, "type": 1}]
    status, body, _ = await call(http, "PUT", f"applications/{fake.app_id}/guilds/{guild.id}/commands", too_long)
    assert (status, body["code"]) == (400, 50035)


async def test_429_carries_retry_after_rate_limit_headers_and_via(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    _, text, _ = world(fake)
    fake.rate_limit(BOT_MESSAGE, 2, 5.0)
    for n in range(2):
        status, _, headers = await call(http, "POST", f"channels/{text.id}/messages", {"content": f"m{n}"})
        assert status == 200 and headers["X-RateLimit-Remaining"] == str(1 - n)
        assert headers["X-RateLimit-Limit"] == "2" and float(headers["X-RateLimit-Reset-After"]) > 4
    status, body, headers = await call(http, "POST", f"channels/{text.id}/messages", {"content": "m2"})
    assert status == 429 and headers["Content-Type"] == "application/json"
    assert body["message"] == "You are being rate limited." and body["global"] is False
    assert 4 < body["retry_after"] <= 5
    assert headers["X-RateLimit-Remaining"] == "0" and headers["X-RateLimit-Scope"] == "user"
    assert headers["Via"] == "1.1 google" and int(headers["Retry-After"]) == 5
    assert headers["X-RateLimit-Bucket"] and float(headers["X-RateLimit-Reset"]) > 0
    # another channel is another bucket (channel id is a major parameter)
    other = fake.add_channel(fake.guild_of(text.id), "other")
    status, _, _ = await call(http, "POST", f"channels/{other.id}/messages", {"content": "m"})
    assert status == 200
    fake.force_429("*", 1, 1.5, is_global=True)
    status, body, headers = await call(http, "GET", "users/@me")
    assert status == 429 and body["global"] is True and headers["X-RateLimit-Global"] == "true"


async def test_discord_py_waits_out_a_429_but_a_429_without_via_is_a_cloudflare_ban(
    fake: FakeDiscord, errors: ErrorWatch
) -> None:
    _, text, _ = world(fake)
    client = discord.Client(intents=discord.Intents.none())
    await client.login(fake.token)
    try:
        channel = await client.fetch_channel(text.id)
        assert isinstance(channel, discord.TextChannel)
        fake.force_429(BOT_MESSAGE, 2, 0.05)
        message = await channel.send("after two 429s")
        assert message.content == "after two 429s"
        assert len(fake.requests_to(BOT_MESSAGE, 429)) == 2
        fake.force_429(BOT_MESSAGE, 1, 0.05, via=False)
        with pytest.raises(discord.HTTPException) as caught:
            await channel.send("banned")
        assert caught.value.status == 429
    finally:
        await client.close()


async def test_nonces_threads_webhooks_and_archived_threads(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
    _, text, forum = world(fake)
    first = await call(
        http, "POST", f"channels/{text.id}/messages", {"content": "a", "nonce": "k1", "enforce_nonce": True}
    )
    again = await call(
        http, "POST", f"channels/{text.id}/messages", {"content": "a", "nonce": "k1", "enforce_nonce": True}
    )
    assert first[1]["id"] == again[1]["id"] and first[1]["nonce"] == "k1"
    status, thread, _ = await call(http, "POST", f"channels/{text.id}/messages/{first[1]['id']}/threads", {"name": "T"})
    assert status == 201 and thread["id"] == first[1]["id"] and thread["type"] == 11
    status, body, _ = await call(http, "POST", f"channels/{text.id}/messages/{first[1]['id']}/threads", {"name": "T"})
    assert (status, body["code"]) == (400, 160004)
    status, bare, _ = await call(http, "POST", f"channels/{text.id}/threads", {"name": "No starter", "type": 11})
    assert status == 201 and bare["parent_id"] == str(text.id) and bare["thread_metadata"]["archived"] is False
    status, post, _ = await call(
        http, "POST", f"channels/{forum.id}/threads", {"name": "P", "message": {"content": "first"}}
    )
    assert status == 201 and post["message"]["id"] == post["id"] and post["parent_id"] == str(forum.id)
    status, hook, _ = await call(http, "POST", f"channels/{text.id}/webhooks", {"name": "Thread Mirror"})
    status, sent, _ = await call(
        http,
        "POST",
        f"webhooks/{hook['id']}/{hook['token']}",
        {"content": "hi", "username": "Maren"},
        params={"wait": "true", "thread_id": thread["id"]},
    )
    assert status == 200 and sent["channel_id"] == thread["id"] and sent["webhook_id"] == hook["id"]
    assert sent["author"]["username"] == "Maren"
    record = fake.requests_to("POST webhooks/{webhook_id}/{webhook_token}")[-1]
    assert record.query == {"wait": "true", "thread_id": thread["id"]}
    # a webhook message in a thread is only found with ?thread_id=
    message_path = f"webhooks/{hook['id']}/{hook['token']}/messages/{sent['id']}"
    assert (await call(http, "PATCH", message_path, {"content": "x"}))[0] == 404
    await fake.archive(fake.channels[int(thread["id"])])
    for method, body in (("PATCH", {"content": "x"}), ("DELETE", None)):
        status, error, _ = await call(http, method, message_path, body, params={"thread_id": thread["id"]})
        assert (status, error["code"]) == (400, 50083)
    status, error, _ = await call(
        http, "POST", f"webhooks/{hook['id']}/{hook['token']}", {"content": "x"}, params={"thread_id": thread["id"]}
    )
    assert (status, error["code"]) == (400, 50083)
    status, reopened, _ = await call(http, "PATCH", f"channels/{thread['id']}", {"archived": False})
    assert status == 200 and reopened["thread_metadata"]["archived"] is False
    status, history, _ = await call(http, "GET", f"channels/{thread['id']}/messages", params={"limit": "10"})
    assert [m["type"] for m in history] == [0, 21]  # newest first; the thread's starter message last


async def test_interaction_callbacks_need_a_full_body_once_and_in_time(
    fake: FakeDiscord, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    guild, text, _ = world(fake)
    member = fake.add_member(guild, "alice")
    commands = [{"name": "ping", "description": "Ping", "type": 1}]
    assert (await call(http, "PUT", f"applications/{fake.app_id}/guilds/{guild.id}/commands", commands))[0] == 200
    interaction = await fake.invoke(member, text, "ping")
    path = f"interactions/{interaction.id}/{interaction.token}/callback"
    status, body, _ = await call(http, "POST", path, {"type": 4}, params={"with_response": "1"})
    assert (status, body["code"]) == (400, 50006)  # a message response needs its data
    status, body, _ = await call(
        http, "POST", path, {"type": 4, "data": {"content": "pong", "flags": 64}}, params={"with_response": "1"}
    )
    assert status == 200 and body["resource"]["message"]["content"] == "pong"
    assert body["interaction"]["response_message_ephemeral"] is True
    status, body, _ = await call(http, "POST", path, {"type": 4, "data": {"content": "again"}})
    assert (status, body["code"]) == (400, 40060)
    monkeypatch.setattr(fake_server, "INTERACTION_ACK_DEADLINE", 0.0)
    late = await fake.invoke(member, text, "ping")
    status, body, _ = await call(http, "POST", f"interactions/{late.id}/{late.token}/callback", {"type": 5})
    assert (status, body["code"]) == (404, 10062)


# -- the gateway --------------------------------------------------------------------------


class RawGateway:
    """A bare websocket client speaking Discord's gateway protocol with zlib-stream."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.inflator = zlib.decompressobj()
        self.buffer = b""

    async def receive(self) -> dict[str, Any]:
        while True:
            msg = await asyncio.wait_for(self.ws.receive(), 5)
            if msg.type == aiohttp.WSMsgType.BINARY:
                self.buffer += msg.data
                if not self.buffer.endswith(b"\x00\x00\xff\xff"):
                    continue
                data = self.inflator.decompress(self.buffer)
                self.buffer = b""
                return dict(json.loads(data))
            if msg.type == aiohttp.WSMsgType.TEXT:
                return dict(json.loads(msg.data))
            raise ConnectionError(f"closed: {self.ws.close_code}")

    async def until(self, event: str) -> dict[str, Any]:
        while True:
            payload = await self.receive()
            if payload.get("t") == event:
                return payload

    async def send(self, op: int, d: Any) -> None:
        await self.ws.send_str(json.dumps({"op": op, "d": d}))


async def connect(session: aiohttp.ClientSession, fake: FakeDiscord) -> RawGateway:
    ws = await session.ws_connect(fake.gateway_url + "?v=10&encoding=json&compress=zlib-stream")
    gateway = RawGateway(ws)
    hello = await gateway.receive()
    assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0
    return gateway


def identify(fake: FakeDiscord, intents: int, token: str | None = None) -> dict[str, Any]:
    return {
        "token": token or fake.token,
        "intents": intents,
        "properties": {"os": "linux", "browser": "t", "device": "t"},
    }


async def test_gateway_identify_heartbeat_resume_and_the_content_intent(fake: FakeDiscord) -> None:
    guild, text, _ = world(fake)
    member = fake.add_member(guild, "alice", "Alice")
    async with aiohttp.ClientSession() as session:
        gw = await connect(session, fake)
        await gw.send(1, None)
        assert (await gw.receive())["op"] == 11
        await gw.send(2, identify(fake, (1 << 0) | (1 << 9)))  # GUILDS | GUILD_MESSAGES, no MESSAGE_CONTENT
        ready = await gw.until("READY")
        assert ready["s"] == 1 and ready["d"]["guilds"] == [{"id": str(guild.id), "unavailable": True}]
        session_id, resume_url = ready["d"]["session_id"], ready["d"]["resume_gateway_url"]
        created = await gw.until("GUILD_CREATE")
        assert [c["id"] for c in created["d"]["channels"]] == [str(c) for c in guild.channel_ids]
        assert created["d"]["members"][0]["user"]["id"] == str(fake.bot.id)
        await fake.user_says(member, text, "secret words")
        event = await gw.until("MESSAGE_CREATE")
        assert event["d"]["content"] == "" and event["d"]["author"]["id"] == str(member.user.id)
        assert event["d"]["guild_id"] == str(guild.id) and "member" in event["d"]
        last_seq = event["s"]
        await gw.ws.close(code=4000)

        missed = await fake.user_says(member, text, "while away")  # buffered for the session
        gw = RawGateway(await session.ws_connect(resume_url + "/?v=10&encoding=json&compress=zlib-stream"))
        assert (await gw.receive())["op"] == 10
        await gw.send(6, {"token": fake.token, "session_id": session_id, "seq": last_seq})
        replayed = await gw.receive()
        assert (
            replayed["t"] == "MESSAGE_CREATE"
            and replayed["d"]["id"] == str(missed.id)
            and replayed["s"] == last_seq + 1
        )
        assert (await gw.receive())["t"] == "RESUMED"
        await gw.ws.close(code=1000)  # a clean close ends the session: it cannot be resumed

        gw = await connect(session, fake)
        await gw.send(6, {"token": fake.token, "session_id": session_id, "seq": last_seq})
        assert await gw.receive() == {"op": 9, "d": False, "s": None, "t": None}
        await gw.ws.close()

        gw = await connect(session, fake)
        await gw.send(2, identify(fake, (1 << 0) | (1 << 9) | (1 << 15)))
        await gw.until("GUILD_CREATE")
        await fake.user_says(member, text, "readable words")
        assert (await gw.until("MESSAGE_CREATE"))["d"]["content"] == "readable words"
        await gw.ws.close()

        gw = await connect(session, fake)
        await gw.send(2, identify(fake, 1, token="wrong"))
        with pytest.raises(ConnectionError):
            await gw.receive()
        assert gw.ws.close_code == 4004


async def test_privileged_intent_not_enabled_closes_with_4014(fake: FakeDiscord) -> None:
    fake.app_flags = 0
    async with aiohttp.ClientSession() as session:
        gw = await connect(session, fake)
        await gw.send(2, identify(fake, (1 << 0) | (1 << 15)))
        with pytest.raises(ConnectionError):
            await gw.receive()
        assert gw.ws.close_code == 4014


async def test_discord_py_connects_caches_and_resumes(fake: FakeDiscord, errors: ErrorWatch) -> None:
    guild, text, forum = world(fake)
    member = fake.add_member(guild, "alice", "Alice", nick="Al")
    fake.heartbeat_interval = 0.05
    intents = discord.Intents.none()
    intents.guilds = intents.guild_messages = intents.message_content = True
    client = discord.Client(intents=intents, guild_ready_timeout=0.01)
    seen: list[discord.Message] = []

    @client.event
    async def on_message(message: discord.Message) -> None:
        seen.append(message)

    await client.login(fake.token)
    runner = asyncio.create_task(client.connect())
    try:
        await asyncio.wait_for(client.wait_until_ready(), 10)
        cached = client.get_guild(guild.id)
        assert cached is not None and cached.me is not None
        assert isinstance(client.get_channel(text.id), discord.TextChannel)
        assert isinstance(client.get_channel(forum.id), discord.ForumChannel)
        await fake.user_says(member, text, "hello")
        await fake.wait_for(lambda: len(seen) == 1, what="on_message")
        assert seen[0].author.display_name == "Al" and seen[0].content == "hello"
        await fake.wait_for(
            lambda: fake.connections and next(iter(fake.connections)).heartbeats >= 3, what="heartbeats"
        )
        assert client.latency < 1
        await fake.gateway_reconnect()
        await fake.wait_for(lambda: fake.resumes == 1, what="a RESUME")
        await fake.user_says(member, text, "after the resume")
        await fake.wait_for(lambda: len(seen) == 2, what="on_message after the resume")
        assert len(fake.identifies) == 1
    finally:
        await client.close()
        await runner


async def test_errors_discord_py_only_logs_are_caught(fake: FakeDiscord) -> None:
    guild, text, _ = world(fake)
    member = fake.add_member(guild, "alice")
    intents = discord.Intents.none()
    intents.guilds = intents.guild_messages = True
    client = discord.Client(intents=intents, guild_ready_timeout=0.01)

    @client.event
    async def on_message(message: discord.Message) -> None:
        raise RuntimeError("a handler bug")

    async with watch_errors() as watch:
        await client.login(fake.token)
        runner = asyncio.create_task(client.connect())
        await asyncio.wait_for(client.wait_until_ready(), 10)
        await fake.user_says(member, text, "boom")
        await fake.wait_for(lambda: bool(watch.records), what="the logged error")
        await client.close()
        await runner
    assert "a handler bug" in watch.records[0]
