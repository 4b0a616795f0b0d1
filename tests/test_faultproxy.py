"""The fault proxy itself: each fault kind, the WordPress Link rewrite, kill hooks and outages."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from tests.faultproxy import FaultProxy


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[str, list[str]]]:
    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.path_qs}")
        link = f'<http://127.0.0.1:{request.url.port}/wp-json/>; rel="https://api.w.org/"'
        return web.json_response({"ok": True, "pad": "x" * 200}, headers={"Link": link})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


async def fetch(url: str, within: float = 5.0) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=within)) as session,
        session.post(url, json={"a": 1}) as response,
    ):
        return response.status, await response.text()


async def test_each_fault_kind(upstream: tuple[str, list[str]]) -> None:
    base, seen = upstream
    for kind, flavor in [("5xx", "wordpress"), ("429", "matrix"), ("429", "discord"), ("not_json", "wordpress")]:
        proxy = await FaultProxy(base, flavor, rate=1.0, kinds=[kind]).start()  # type: ignore[arg-type]
        status, text = await fetch(proxy.url + "/x")
        assert proxy.faults == {kind: 1}
        if kind == "429":
            assert status == 429 and ("retry_after_ms" in text if flavor == "matrix" else "retry_after" in text)
        elif kind == "5xx":
            assert status >= 500
        else:
            assert status == 200 and text.startswith("<!DOCTYPE html>")
        await proxy.stop()
    assert seen == ["POST /x"]  # only not_json forwarded the request

    proxy = await FaultProxy(base, "wordpress", rate=1.0, kinds=["truncate"]).start()
    with pytest.raises(aiohttp.ClientPayloadError):
        await fetch(proxy.url + "/t")
    await proxy.stop()

    proxy = await FaultProxy(base, "wordpress", rate=1.0, kinds=["hang"]).start()
    with pytest.raises(TimeoutError):
        await fetch(proxy.url + "/h", within=0.5)
    await proxy.stop()
    assert seen[-2:] == ["POST /t", "POST /h"]  # both took effect upstream


async def test_link_rewrite_hooks_and_outage(upstream: tuple[str, list[str]]) -> None:
    base, seen = upstream
    proxy = await FaultProxy(base, "wordpress").start()
    async with aiohttp.ClientSession() as session, session.get(proxy.url + "/") as response:
        assert str(response.links.getone("https://api.w.org/")["url"]) == f"{proxy.url}/wp-json/"
    fired: list[int] = []
    proxy.kill_after("POST", r"/comments", 2, lambda: fired.append(len(seen)) is None)
    for _ in range(3):
        await fetch(proxy.url + "/wp-json/wp/v2/comments")
    assert fired == [3] and proxy.hooks == []  # after the second POST took effect, once
    proxy.outage = True
    assert (await fetch(proxy.url + "/x"))[0] == 503
    assert proxy.faults == {"outage": 1}
    await proxy.stop()
