"""Requests per poll cycle for one site with N watched pages: the bot against a naive per-page poller.

    .venv/bin/python bench/poll_requests.py                  # N = 1, 100, 1000
    .venv/bin/python bench/poll_requests.py --pages 1 100 1000 --per-page 3 --new 5

Serves the bundled sample site (the WordPress REST look-alike) on 127.0.0.1 with N extra posts,
`--per-page` comments on each, and counts the HTTP requests the site receives. For each N:

- ours: the bot's real poller (SitePoller + WordPressSource) for one mirror that watches the N
  pages, cycle by cycle: the first cycle (the backfill of everything there), then steady cycles
  with `--new` new comments spread over random watched pages before each, then a forced re-read
  of the edit window (what `recheck_interval` does every 5 minutes);
- naive: a per-page poller, `GET /wp/v2/comments?post=<id>&per_page=100` for every watched page
  (following its pages), every cycle.

Only the polls are counted (deliveries are not run). Goal: one request per site per cycle, plus
one per further 100 comments, whatever N.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from aiohttp import web

from bot.config import Config
from bot.core.app import App
from bot.sample_site.server import SampleSite, SitePost
from bot.store import Store
from tests.recording_chat import RecordingChat

FIRST_ID = 10_000


class CountingSite(SampleSite):
    """The sample site, counting the requests it answers by (method, route)."""

    def __init__(self) -> None:
        super().__init__(interval=0)
        self.counts: Counter[str] = Counter()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        route = request.path.removeprefix("/wp-json")
        self.counts[f"{request.method} {route if request.path.startswith('/wp-json') else 'html'}"] += 1
        return await super()._handle(request)

    def total(self) -> int:
        return sum(self.counts.values())

    def add_posts(self, n: int, comments_each: int) -> list[int]:
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
        ids = []
        for i in range(n):
            post_id = FIRST_ID + i
            self.posts[post_id] = SitePost(post_id, f"bench-{i}", f"Bench page {i}", ("Text.",), start)
            ids.append(post_id)
        for j in range(comments_each):
            for i, post_id in enumerate(ids):
                when = start + timedelta(seconds=j * n + i)
                self.add_comment(post_id, 0, f"Reader {i % 37}", f"<p>Comment {j} on page {i}.</p>", when=when)
        return ids


def config(url: str, store: Path, pages: list[int]) -> Config:
    return Config.model_validate(
        {
            "store": {"path": str(store)},
            "sites": {"site": {"url": url, "poll_interval": 60, "recheck_interval": 3600}},
            "chats": {"terminal": {"enabled": True}},
            "mirrors": [
                {
                    "name": "m",
                    "site": "site",
                    "pages": pages,
                    "relay": "off",
                    "targets": [{"chat": "terminal", "channel": "c"}],
                }
            ],
        }
    )


async def naive_cycle(session: aiohttp.ClientSession, api: str, pages: list[int]) -> int:
    """One cycle of a per-page poller: every watched page's comments, following pages of 100."""
    seen = 0
    for post_id in pages:
        page = 1
        while True:
            params: dict[str, Any] = {"post": post_id, "per_page": 100, "page": page}
            async with session.get(f"{api}wp/v2/comments", params=params) as response:
                seen += len(await response.json())
                if page >= int(response.headers.get("X-WP-TotalPages", "1") or 1):
                    break
            page += 1
    return seen


async def measure(n: int, per_page: int, new: int, steady: int) -> dict[str, Any]:
    site = CountingSite()
    await site.start()
    pages = site.add_posts(n, per_page)
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "bench.db")
        session = aiohttp.ClientSession()
        app = App(config(site.base_url, Path(tmp) / "bench.db", pages), store, {"terminal": RecordingChat()})
        try:
            ours, naive = await cycles(app, site, session, pages, new, steady, random.Random(n))
        finally:
            await app.sources["site"].close()
            await session.close()
            await store.close()
            await site.stop()
    return {"n": n, "comments": n * per_page, "ours": ours, "naive": naive}


async def cycles(
    app: App,
    site: CountingSite,
    session: aiohttp.ClientSession,
    pages: list[int],
    new: int,
    steady: int,
    rng: random.Random,
) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    await app.sync_config_mirrors()  # the outbox is not started: only the polls are measured
    poller = app.pollers["site"]
    await app.sources["site"].start()  # discovery and users/me: once per process, not per cycle
    poller.connected = True
    ours: dict[str, list[int]] = {"first": [], "steady": [], "recheck": []}
    naive: dict[str, list[int]] = {"first": [], "steady": [], "recheck": []}

    async def cycle(kind: str) -> None:
        before = site.total()
        plan = await poller.poll_once(force_recheck=kind == "recheck")
        ours[kind].append(site.total() - before)
        if kind != "first":
            assert plan.new == (new if kind == "steady" else 0), (kind, plan.new)
        before = site.total()
        await naive_cycle(session, site.api_root, pages)
        naive[kind].append(site.total() - before)

    await cycle("first")
    for _ in range(steady):
        for _ in range(new):
            site.add_comment(rng.choice(pages), 0, "Newcomer", "<p>Something new.</p>")
        await cycle("steady")
    await cycle("recheck")
    return ours, naive


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, nargs="+", default=[1, 100, 1000], help="N values (default 1 100 1000)")
    parser.add_argument("--per-page", type=int, default=3, help="comments on each page at the start (default 3)")
    parser.add_argument("--new", type=int, default=5, help="new comments before each steady cycle (default 5)")
    parser.add_argument("--steady", type=int, default=5, help="steady cycles measured (default 5)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    rows = [await measure(n, args.per_page, args.new, args.steady) for n in args.pages]
    print(
        f"requests per poll cycle, one site; {args.per_page} comments per page at the start, "
        f"{args.new} new comments before each of {args.steady} steady cycles\n"
    )
    print(f"{'N pages':>8} {'cycle':>22} {'ours':>6} {'naive':>6} {'ours/naive':>11}")
    for row in rows:
        for kind, label in (
            ("steady", "steady (new comments)"),
            ("first", f"first ({row['comments']} to backfill)"),
            ("recheck", "edit-window re-read"),
        ):
            ours = max(row["ours"][kind])
            naive = max(row["naive"][kind])
            print(f"{row['n']:>8} {label:>22} {ours:>6} {naive:>6} {ours / naive:>10.1%}")
    steady = [max(row["ours"]["steady"]) for row in rows]
    verdict = "met" if all(s == 1 for s in steady) else "NOT met"
    print(f"\ngoal (one request per site per steady cycle, whatever N): {verdict}")


if __name__ == "__main__":
    asyncio.run(main())
