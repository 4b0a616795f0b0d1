"""SSRF protection: internal addresses, schemes and redirects, for sources and `mirror add`."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.config import WordPressSite
from bot.models import CommandCall
from bot.sample_site.server import BOT_APP_PASSWORD, BOT_USERNAME, SampleSite
from bot.sources.base import SourceError
from bot.sources.guard import AddressPolicy, BlockedAddress, why_internal
from bot.sources.http import PoliteFetcher
from bot.sources.wordpress import WordPressSource
from tests.harness import Bot, site_config
from tests.recording_chat import RecordingChat


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # AWS, GCP, Azure metadata
        "100.100.100.200",  # Alibaba metadata
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:169.254.169.254",
        "224.0.0.1",
    ],
)
def test_internal_addresses_are_recognised(address: str) -> None:
    assert why_internal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert why_internal(ipaddress.ip_address(address)) is None


async def test_schemes_and_internal_names_are_refused_unless_allowed() -> None:
    strict = AddressPolicy()
    for url in ("file:///etc/passwd", "gopher://127.0.0.1:70/", "ftp://example.org/", "javascript:alert(1)"):
        with pytest.raises(BlockedAddress, match="only http and https"):
            await strict.check_url(url)
    for url in ("http://127.0.0.1:8080/", "http://[::1]/", "http://169.254.169.254/latest/meta-data/"):
        with pytest.raises(BlockedAddress, match=r"network\.allow_private"):
            await strict.check_url(url)
    with pytest.raises(BlockedAddress, match="loopback"):
        await strict.check_url("http://localhost:8080/")  # a name that resolves to loopback
    await AddressPolicy.build(["localhost"]).check_url("http://localhost:8080/")
    await AddressPolicy.build(["127.0.0.0/8"]).check_url("http://localhost:8080/")
    await AddressPolicy.build([], ["http://127.0.0.1:9/"]).check_url("http://127.0.0.1:8080/page")
    with pytest.raises(BlockedAddress):  # a site configured at 127.0.0.1 does not open 127.0.0.2
        await AddressPolicy.build([], ["http://127.0.0.1:9/"]).check_url("http://127.0.0.2/")


@pytest.fixture
async def redirecting_site() -> AsyncIterator[str]:
    """A site on 127.0.0.1 whose pages redirect to other internal addresses."""

    async def to_metadata(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")

    async def to_other_loopback(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://127.0.0.2:{request.url.port}/secret")

    async def secret(request: web.Request) -> web.Response:
        return web.Response(text="internal only")

    app = web.Application()
    app.router.add_get("/", to_metadata)
    app.router.add_get("/post/", to_other_loopback)
    app.router.add_get("/secret", secret)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_redirects_to_internal_addresses_are_refused(redirecting_site: str) -> None:
    policy = AddressPolicy.build([], [redirecting_site + "/"])
    fetcher = PoliteFetcher(min_interval=0, policy=policy)
    await fetcher.start()
    try:
        with pytest.raises(SourceError) as refused:
            await fetcher.get(redirecting_site + "/post/")
        assert "127.0.0.2 is a loopback address" in str(refused.value) and not refused.value.transient
    finally:
        await fetcher.close()

    settings = WordPressSite(url=redirecting_site)
    source = WordPressSource("site", settings, policy=policy)
    with pytest.raises(SourceError) as refused:
        await source.start()  # the home page redirects to the metadata service
    await source.close()
    assert "169.254.169.254" in str(refused.value) and not refused.value.transient


async def test_mirror_add_refuses_internal_and_other_scheme_urls(site: SampleSite, tmp_path: Path) -> None:
    chat = RecordingChat(name="terminal")
    config = site_config(site.base_url, BOT_USERNAME, BOT_APP_PASSWORD, tmp_path / "bot.db")
    bot = Bot(config, {"terminal": chat})
    app = await bot.start()
    answers: list[str] = []

    async def add(url: str) -> str:
        async def respond(text: str) -> None:
            answers.append(text)

        call = CommandCall("terminal", "main", None, "Ada", "admin", True, "mirror add", {"url": url}, respond)
        await app.on_command(call)
        return answers[-1]

    assert "only http and https" in await add("file:///etc/passwd")
    assert "network.allow_private" in await add("http://169.254.169.254/latest/meta-data/")
    assert "loopback" in await add("http://127.0.0.2/")
    assert "Added" in await add(site.base_url + "/")  # the configured site itself (by address) is fine
    await bot.stop()
