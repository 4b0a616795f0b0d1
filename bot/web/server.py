"""The bot's small web server: `/healthz`, `/metrics` and the WordPress push webhook.

It listens on `http.host` (127.0.0.1 unless configured otherwise); put a reverse proxy in front
for the webhook and keep `/metrics` private (docs/deploy.md). Access logs are off: health checks
every few seconds would drown the bot's own log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from aiohttp import web

from bot.chats.base import is_connected
from bot.config import HttpSettings, WordPressSite
from bot.web.push import MAX_BODY, SIGNATURE_HEADER, TIMESTAMP_HEADER, PushRefused, ReplayGuard, accept

if TYPE_CHECKING:
    from bot.core.app import App

log = logging.getLogger(__name__)

STORE_CHECK_TIMEOUT = 3.0  # seconds a store write may take before /healthz calls the store stuck


class WebServer:
    def __init__(self, app: App, settings: HttpSettings) -> None:
        self.app = app
        self.settings = settings
        self.guard = ReplayGuard(settings.push_max_age)
        self.store_check_timeout = STORE_CHECK_TIMEOUT
        self.port = settings.port
        self._store_check: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None

    def routes(self) -> web.Application:
        web_app = web.Application(client_max_size=MAX_BODY)
        web_app.router.add_get("/healthz", self.healthz)
        web_app.router.add_get("/metrics", self.metrics)
        web_app.router.add_post("/hooks/wordpress/{site}", self.wordpress_hook)
        return web_app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.routes(), access_log=None)
        await self._runner.setup()
        host, port = self.settings.host, self.settings.port
        try:
            await web.TCPSite(self._runner, host, port).start()
        except OSError as exc:
            log.error("http: cannot listen on %s:%d (%s); change http.port", host, port, exc)
            await self._runner.cleanup()
            raise
        self.port = self._runner.addresses[0][1]
        log.info("http: listening on http://%s:%d (/healthz, /metrics, /hooks/wordpress/<site>)", host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._store_check is not None:
            await asyncio.gather(self._store_check, return_exceptions=True)

    # -- /healthz --------------------------------------------------------------------------

    async def healthz(self, request: web.Request) -> web.Response:
        """200 when the store takes a write and every chat is connected, else 503 naming what is not.

        Other problems the chats report (a failing sync, a rate limit) are listed but do not fail it.
        """
        store = await self._store_state()
        chats = {name: "connected" if is_connected(chat) else "disconnected" for name, chat in self.app.chats.items()}
        ok = store == "ok" and all(state == "connected" for state in chats.values())
        body: dict[str, object] = {"ok": ok, "store": store, "chats": chats}
        problems = {name: text for name, chat in self.app.chats.items() if (text := await chat.health())}
        if problems:
            body["problems"] = problems
        return web.json_response(body, status=200 if ok else 503)

    async def _store_state(self) -> str:
        # The write runs in its own task and is never cancelled: cancelling an aiosqlite call
        # midway could leave a transaction open. A check still running is waited on, not doubled.
        if self._store_check is None or self._store_check.done():
            self._store_check = asyncio.create_task(self._write_probe())
        done, _ = await asyncio.wait({self._store_check}, timeout=self.store_check_timeout)
        if not done:
            return f"no write within {self.store_check_timeout:g}s (locked or stuck)"
        error = self._store_check.exception()
        return "ok" if error is None else f"not writable: {error}"

    async def _write_probe(self) -> None:
        await self.app.store.set_chat_state("_bot", "healthz", str(time.time()))

    # -- /metrics --------------------------------------------------------------------------

    async def metrics(self, request: web.Request) -> web.Response:
        await self.app.metrics.refresh(self.app.store, self.app.config.sites)
        body, content_type = self.app.metrics.exposition(request.headers.get("Accept", ""))
        return web.Response(body=body, headers={"Content-Type": content_type})

    # -- the WordPress webhook ---------------------------------------------------------------

    def _push_secret(self, site: str) -> str | None:
        settings = self.app.config.sites.get(site)
        if not isinstance(settings, WordPressSite) or settings.push_secret is None:
            return None
        return settings.push_secret.get_secret_value()

    async def wordpress_hook(self, request: web.Request) -> web.Response:
        """Verify a push, then have the site's poller fetch the comment; 202 as soon as it is queued."""
        site = request.match_info["site"]
        secret = self._push_secret(site)
        if secret is None or site not in self.app.pollers:
            return web.json_response({"error": "no such site, or push is not set up for it"}, status=404)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            self.app.metrics.push(site, "too_large")
            return web.json_response({"error": f"body over {MAX_BODY} bytes"}, status=413)
        try:
            headers = request.headers
            notice = accept(secret, headers.get(TIMESTAMP_HEADER), headers.get(SIGNATURE_HEADER), body, self.guard)
        except PushRefused as refused:
            self.app.metrics.push(site, refused.result)
            log.warning("push for %s from %s refused: %s", site, request.remote, refused.reason)
            return web.json_response({"error": refused.reason}, status=refused.status)
        self.app.metrics.push(site, "accepted")
        log.debug("push for %s: %s comment %d", site, notice.event or "change", notice.comment_id)
        self.app.pollers[site].notify(notice.comment_id)
        return web.json_response({"queued": notice.comment_id}, status=202)
