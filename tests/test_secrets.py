"""Every configured secret stays out of the logs, error output and `mirror status`.

The bot runs as a real process at debug level, with every kind of secret set from the
environment, while its peers fail in the ways that make clients log the most: a rejected
application password, a homeserver and a Discord API that cannot be reached, an LLM endpoint
that is down. Then the captured output is searched for each secret and its usual encodings.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import load_config
from bot.core.app import App
from bot.sample_site.server import BOT_USERNAME, SampleSite
from bot.store import Store
from tests.recording_chat import RecordingChat

SECRETS = {
    "WP_APP_PASSWORD": "Zq7x Pp2m Kk9w Rr4t Yy6u Ww1e",  # wrong on purpose: the site refuses it
    "MATRIX_TOKEN": "syt_bWlycm9y_SeCrEtMaTrIxToKeN_0x1234",
    "DISCORD_TOKEN": "MTIzNDU2Nzg5MDEyMzQ1Njc4.GsecrT.discord-token-value-abcdefghij",
    "LLM_API_KEY": "sk-secret-llm-key-0123456789",
    "WP_PUSH_SECRET": "push-secret-9f8e7d6c5b4a",
}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sample_site_url() -> Iterator[str]:
    """The sample site in a thread of its own, so a bot process can reach it."""
    loop = asyncio.new_event_loop()
    site = SampleSite(interval=0)
    url = loop.run_until_complete(site.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield url
    asyncio.run_coroutine_threadsafe(site.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def write_config(path: Path, site_url: str) -> None:
    down = f"http://127.0.0.1:{closed_port()}"
    path.write_text(
        f"store: {{path: {path.parent / 'bot.db'}}}\n"
        "log_level: debug\n"
        f"http: {{port: 0}}\n"
        "sites:\n"
        f"  blog:\n    url: {site_url}/\n    username: {BOT_USERNAME}\n"
        "    app_password: ${WP_APP_PASSWORD}\n    push_secret: ${WP_PUSH_SECRET}\n    poll_interval: 1\n"
        "chats:\n"
        f"  matrix:\n    homeserver: {down}\n    user_id: '@mirror:localhost'\n"
        "    access_token: ${MATRIX_TOKEN}\n    request_timeout: 1\n"
        f"  discord:\n    token: ${{DISCORD_TOKEN}}\n    api_base: {down}/api/v10\n    connect_timeout: 2\n"
        "mirrors:\n"
        "  - {name: all, site: blog, relay: approved, targets: [{chat: matrix, channel: '!room:localhost'}]}\n"
        "summarize:\n"
        f"  llm: {{base_url: {down}/v1, model: m, api_key: '${{LLM_API_KEY}}', timeout: 1}}\n"
    )


def leaks(text: str) -> list[str]:
    """The secrets (or their space-less, URL-quoted or basic-auth forms) found in `text`."""
    found = []
    for name, value in SECRETS.items():
        forms = {
            value,
            value.replace(" ", ""),
            urllib.parse.quote(value),
            base64.b64encode(f"{BOT_USERNAME}:{value}".encode()).decode(),
        }
        found += [f"{name} as {form!r}" for form in forms if form in text]
    return found


def test_no_secret_reaches_logs_errors_or_status(sample_site_url: str, tmp_path: Path) -> None:
    config_path = tmp_path / "config.yaml"
    write_config(config_path, sample_site_url)
    env = {**os.environ, **SECRETS}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--config", str(config_path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    time.sleep(6)  # long enough for a refused login, a few retries and their log lines
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output[-3000:]  # unreachable chats are retried, not fatal
    assert "application password rejected" in output  # the failures did happen and were logged
    assert "cannot reach" in output
    assert "DEBUG" in output
    assert leaks(output) == [], leaks(output)

    # The same configuration's status report and errors, in process.
    os.environ.update(SECRETS)
    try:
        config = load_config(config_path)
    finally:
        for name in SECRETS:
            os.environ.pop(name, None)
    assert leaks(repr(config)) == [] and leaks(str(config.model_dump())) == []

    async def status() -> str:
        store = await Store.open(tmp_path / "status.db")
        app = App(config, store, {"matrix": RecordingChat(name="matrix")})
        try:
            await app.start()  # polls at once, and the site refuses the password
            for _ in range(200):
                cursor = await store.get_cursor("blog")
                if cursor is not None and cursor.last_error:
                    return "\n".join([*await app.status_lines(None), cursor.last_error])
                await asyncio.sleep(0.05)
            raise AssertionError("the poll did not fail")
        finally:
            await app.stop()
            await store.close()

    report = asyncio.run(status())
    assert "FAILING" in report
    assert leaks(report) == []
