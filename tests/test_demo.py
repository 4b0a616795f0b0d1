"""`make run`'s path end to end: `thread-mirror demo` as a real process, driven through its terminal."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest


class Demo:
    def __init__(self) -> None:
        env = {**os.environ, "USER": "Tessa", "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "demo", "--interval", "1", "--poll-interval", "0.5"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if match := re.search(pattern, line):
                    return match
            with contextlib.suppress(queue.Empty):
                self.lines.append(self._queue.get(timeout=0.1))
        raise AssertionError(f"no line matching {pattern!r} within {timeout}s; got:\n" + "\n".join(self.lines[-40:]))

    def type(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                self.lines.append(self._queue.get(timeout=0.1))


@pytest.fixture
def demo() -> Iterator[Demo]:
    running = Demo()
    yield running
    running.proc.terminate()
    running.proc.wait(timeout=10)


def site_comments(base_url: str) -> list[dict[str, object]]:
    url = f"{base_url}/wp-json/wp/v2/comments?per_page=100&orderby=id&order=desc"
    with urllib.request.urlopen(url, timeout=5) as response:
        return list(json.load(response))


def test_demo_mirrors_within_seconds_and_relays_a_typed_reply_without_echo(demo: Demo) -> None:
    started = time.monotonic()
    base_url = demo.wait_for(r"mirroring the sample site (http://127\.0\.0\.1:\d+)", 20).group(1)
    demo.wait_for(r"══ \[1\] ", 10)
    first = demo.wait_for(r"\[\d+\] #(\d+) (.+?) \d\d:\d\d UTC", 10)
    number, author = first.group(1), first.group(2)
    assert time.monotonic() - started < 15  # generous for CI; the figure on a normal start is ~1-2 s

    demo.type(f"reply {number} Thanks, that settles it for me")
    demo.wait_for(r"#\d+ Tessa .*\(you\)", 10)
    deadline = time.monotonic() + 15
    mine: list[dict[str, object]] = []
    while time.monotonic() < deadline and not mine:
        mine = [c for c in site_comments(base_url) if c["author_name"] == "Tessa (via terminal)"]
        time.sleep(0.3)
    assert len(mine) == 1, "the typed reply did not reach the sample site"
    parent = [c for c in site_comments(base_url) if c["id"] == mine[0]["parent"]]
    assert parent and parent[0]["author_name"] == author

    demo.drain(3)  # several poll cycles, with the live generator adding comments meanwhile
    assert sum("Thanks, that settles it for me" in line for line in demo.lines) == 1  # no echo
    assert any("#" in line for line in demo.lines[-10:])  # live comments keep arriving

    demo.type("mirror status")
    demo.wait_for(r"site sample: ok", 10)
    demo.type("quit")
    assert demo.proc.wait(timeout=15) == 0
