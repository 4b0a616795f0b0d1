"""A fault-injecting reverse proxy on 127.0.0.1 for the crash and fault tests.

It stands between the bot and a real server (WordPress, Synapse, the fake Discord's REST API)
and, for a seeded random share of the requests, answers badly:

- ``5xx``: a server error, without forwarding the request;
- ``429``: a rate limit in the upstream's own dialect (WordPress: ``Retry-After``; Matrix:
  ``M_LIMIT_EXCEEDED`` with ``retry_after_ms``; Discord: ``retry_after`` with a ``Via`` header,
  which discord.py needs to believe it), without forwarding;
- ``hang``: forwards the request (it takes effect), then never answers: the client times out;
- ``truncate``: forwards, then sends half the body under the full ``Content-Length`` and hangs up;
- ``not_json``: forwards, then answers 200 with an HTML error page.

Whether a request fails is a seeded coin toss (``rate``); the kinds come from a shuffled bag
that holds each once, so every kind is met once there were ``len(kinds)`` faults.

``outage = True`` answers every request 503 (a site that is gone). Kill hooks run after a
matching request was answered by the upstream and before that answer reaches the client:
exactly "between a send and its bookkeeping".

For WordPress the site's ``Link: <...>; rel="https://api.w.org/"`` header is rewritten to the
proxy's address, so a bot that discovers the REST API from it keeps talking through the proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

Flavor = Literal["wordpress", "matrix", "discord"]
FAULT_KINDS = ("5xx", "429", "hang", "truncate", "not_json")
NOT_FORWARDED = ("5xx", "429")
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "content-encoding",
    "host",
    "accept-encoding",
    "upgrade",
}
ERROR_PAGE = b"<!DOCTYPE html><html><body><h1>Error establishing a database connection</h1></body></html>"


@dataclass
class KillHook:
    """Runs `callback` once, on the `count`-th answered request matching `method` and `pattern`."""

    method: str
    pattern: re.Pattern[str]
    count: int
    callback: Callable[[], bool]  # True: it fired (the hook is then spent)
    name: str = ""
    seen: int = 0

    def matches(self, method: str, target: str) -> bool:
        return method == self.method and self.pattern.search(target) is not None


class FaultProxy:
    def __init__(
        self,
        upstream: str,
        flavor: Flavor,
        *,
        seed: int = 0,
        rate: float = 0.0,
        kinds: Sequence[str] = FAULT_KINDS,
        exempt: Callable[[str, str], bool] | None = None,
        hang_for: float = 120.0,
    ) -> None:
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        self.upstream = upstream.rstrip("/")
        self.flavor = flavor
        self.rate = rate
        self.kinds = tuple(kinds)
        self.exempt = exempt
        self.hang_for = hang_for
        self.outage = False
        self.rng = random.Random(seed)
        self.faults: Counter[str] = Counter()
        self.requests = 0
        self.upstream_errors = 0  # answered 502 because the upstream could not be reached
        self.hooks: list[KillHook] = []
        self._bag: list[str] = []
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._closing = asyncio.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FaultProxy:
        self._closing.clear()
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=300)
        self._session = aiohttp.ClientSession(timeout=timeout, auto_decompress=True)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[union-attr]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- configuration -------------------------------------------------------------------

    def kill_after(
        self, method: str, pattern: str, count: int, callback: Callable[[], bool], name: str = ""
    ) -> KillHook:
        hook = KillHook(method, re.compile(pattern), count, callback, name or f"{method} {pattern}")
        self.hooks.append(hook)
        return hook

    def clear_hooks(self) -> None:
        self.hooks.clear()

    # -- handling ------------------------------------------------------------------------

    def _choose(self, method: str, target: str) -> str | None:
        if not self.kinds or (self.exempt is not None and self.exempt(method, target)):
            return None
        if self.rng.random() >= self.rate:
            return None
        if not self._bag:  # each kind once per round, in a shuffled order: all are met, none is favoured
            self._bag = list(self.kinds)
            self.rng.shuffle(self._bag)
        return self._bag.pop()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        method, target = request.method, request.path_qs
        if self.outage:
            self.faults["outage"] += 1
            return web.Response(status=503, body=b"<html><body>Service Unavailable</body></html>")
        kind = self._choose(method, target)
        if kind in NOT_FORWARDED:
            self.faults[kind] += 1
            return self._refusal(kind)
        try:
            status, headers, body = await self._forward(request)
        except (aiohttp.ClientError, TimeoutError):
            self.upstream_errors += 1
            return web.Response(status=502, body=b"<html><body>502 Bad Gateway</body></html>")
        self._run_hooks(method, target)
        if kind == "hang":
            self.faults[kind] += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.hang_for)
            return web.Response(status=504)
        if kind == "truncate" and len(body) > 1:
            self.faults[kind] += 1
            return await self._truncated(request, status, headers, body)
        if kind == "not_json":
            self.faults[kind] += 1
            return web.Response(status=200, body=ERROR_PAGE, content_type="text/html")
        return web.Response(status=status, headers=headers, body=body)

    async def _forward(self, request: web.Request) -> tuple[int, CIMultiDict[str], bytes]:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        data = await request.read()
        async with self._session.request(
            request.method, self.upstream + request.path_qs, headers=headers, data=data, allow_redirects=False
        ) as answer:
            body = await answer.read()
            out: CIMultiDict[str] = CIMultiDict()
            for name, value in answer.headers.items():
                if name.lower() in HOP_BY_HOP:
                    continue
                if name.lower() in ("link", "location") and self.flavor == "wordpress":
                    value = value.replace(self.upstream, self.url)
                out.add(name, value)
            return answer.status, out, body

    def _run_hooks(self, method: str, target: str) -> None:
        for hook in list(self.hooks):
            if not hook.matches(method, target):
                continue
            hook.seen += 1
            if hook.seen >= hook.count and hook.callback():
                self.hooks.remove(hook)

    async def _truncated(
        self, request: web.Request, status: int, headers: CIMultiDict[str], body: bytes
    ) -> web.StreamResponse:
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = len(body)
        with contextlib.suppress(ConnectionError):  # the client may be gone already (a killed bot)
            await response.prepare(request)
            await response.write(body[: len(body) // 2])
        if request.transport is not None:
            request.transport.close()  # flushes what was written, then hangs up
        return response

    def _refusal(self, kind: str) -> web.Response:
        if kind == "429":
            return self._rate_limited()
        status = self.rng.choice((500, 502, 503))
        if self.flavor == "matrix" and status == 500:
            return _json(500, {"errcode": "M_UNKNOWN", "error": "Internal server error"})
        if self.flavor == "discord" and status == 500:
            return _json(500, {"message": "500: Internal Server Error", "code": 0})
        page = f"<html><body>{status}</body></html>".encode()
        return web.Response(status=status, body=page, content_type="text/html")

    def _rate_limited(self) -> web.Response:
        wait = round(self.rng.uniform(0.1, 0.6), 3)
        if self.flavor == "matrix":
            body = {"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests", "retry_after_ms": int(wait * 1000)}
            return _json(429, body, {"Retry-After": "1"})
        if self.flavor == "discord":
            body = {"message": "You are being rate limited.", "retry_after": wait, "global": False, "code": 0}
            return _json(429, body, {"Retry-After": "1", "Via": "1.1 google", "X-RateLimit-Scope": "user"})
        return _json(429, {"code": "too_many_requests", "message": "Slow down."}, {"Retry-After": "1"})


def _json(status: int, data: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=json.dumps(data).encode(), headers={"Content-Type": "application/json", **(headers or {})}
    )
