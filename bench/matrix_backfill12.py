"""Backfill of many threads into a real Synapse: the bot against raw matrix-nio senders, same server.

    .venv/bin/python bench/matrix_backfill12.py                  # 2,000 comments over 12 threads, 2 rounds
    .venv/bin/python bench/matrix_backfill12.py --comments 2000 --threads 16 --rounds 3 --skip-raw1

Starts Synapse the way the test suite does (tests/synapse.py; every user here is exempt from its
message rate limit, as a bridge or bot account usually is) and serves the bundled sample site
(a WordPress REST look-alike) with `--threads` pages sharing `--comments` comments (a third of
them replies), so that `thread_per: page` makes one Matrix thread per page. Each sender puts the
same events (a thread root per page, then every comment, threaded, replies pointing at their
parent's event) into a room of its own on the one server:

- raw, 10 in flight: matrix-nio `room_send`s, content rendered beforehand; each thread in order,
  at most 10 sends outstanding (asyncio.Semaphore(10));
- raw, 1 in flight: the same, one send at a time (what a bridge with one send in flight reaches);
- the bot: App + sample-site source + the Matrix adapter (outbox, store, rendering, its sync
  loop), as `thread-mirror run` builds it, from the first poll until the outbox is idle.

The machine is shared and noisy, so raw-10 and the bot alternate for `--rounds` rounds (after a
short warm-up of Synapse) and the ratio is taken over their summed times; raw-1 runs once. Each
row also shows Synapse's CPU time per event (from /proc) and the sender's own. Then every thread
of the bot's rooms is read back from Synapse (the relations API): each must hold its page's
comments once each, in the site's order. Goal: the bot at 65 % of raw-10 or more (about 1.5x
raw-1), every thread in order, nothing lost or doubled.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nio import AsyncClient, AsyncClientConfig, ErrorResponse

from bot.chats import build_chats
from bot.chats.matrix.content import part_content, render_comment, thread_relation, thread_root_content
from bot.config import Config
from bot.convert import excerpt, html_to_text
from bot.core.app import App
from bot.models import Comment, MirroredComment, Page, ParentContext, ThreadHeader
from bot.sample_site.server import BOT_APP_PASSWORD, BOT_USERNAME, SampleSite, SitePost
from bot.sources.wordpress import comment_from_json
from bot.store import Store
from tests.synapse import MatrixAccount, MatrixUser, SynapseServer, start_synapse

FIRST_POST = 30_000
TEXT = (
    "<p>Comment {i}: the new timetable looks {mood}, but the {thing} still needs work. "
    'See <a href="https://example.org/ferry/{i}">the notice</a> and the <em>winter</em> plan.</p>'
    "<p>{tail}</p>"
)
MOODS = ["sensible", "odd", "promising", "rushed", "fine"]
THINGS = ["night boat", "bike rack", "café", "gangway", "ticket machine"]


@dataclass
class Discussion:
    pages: list[Page]
    comments: dict[int, list[Comment]]  # post id → its comments in the site's order


def seed(site: SampleSite, threads: int, comments: int, first_post: int = FIRST_POST) -> Discussion:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=comments + 3600)
    pages = []
    for t in range(threads):
        post_id = first_post + t
        site.posts[post_id] = SitePost(post_id, f"ferry-{t}", f"Ferry timetable, part {t}", ("Text.",), start)
        pages.append(Page("site", post_id, f"{site.base_url}/ferry-{t}/", f"Ferry timetable, part {t}"))
    by_page: dict[int, list[Comment]] = {p.id: [] for p in pages}
    for i in range(comments):
        post_id = first_post + i % threads
        earlier = by_page[post_id]
        parent = earlier[len(earlier) * 7 // 10].id if i % 3 == 2 and earlier else 0
        html = TEXT.format(i=i, mood=MOODS[i % 5], thing=THINGS[i % 5], tail="More words here. " * (i % 7 + 1))
        made = site.add_comment(post_id, parent, f"Reader {i % 37}", html, when=start + timedelta(seconds=i))
        earlier.append(comment_from_json("site", made))
    return Discussion(pages, by_page)


# -- raw matrix-nio senders ----------------------------------------------------------------


async def raw_send(
    synapse: SynapseServer, account: MatrixAccount, room: str, talk: Discussion, in_flight: int
) -> float:
    """Every thread in order, at most `in_flight` sends outstanding; content rendered beforehand."""
    client = AsyncClient(synapse.base_url, account.user_id, device_id=account.device_id, config=AsyncClientConfig())
    client.access_token, client.user_id = account.access_token, account.user_id
    rendered: dict[int, list[tuple[Comment, Any]]] = {}
    for page in talk.pages:
        by_id = {c.id: c for c in talk.comments[page.id]}
        rendered[page.id] = []
        for comment in talk.comments[page.id]:
            answered = by_id.get(comment.parent_id)
            parent = None
            if answered is not None:
                parent = ParentContext(
                    answered.author_name, excerpt(html_to_text(answered.html), 120), answered.link, "$parent"
                )
            rendered[page.id].append((comment, render_comment(MirroredComment(comment, page.title, parent))))
    gate = asyncio.Semaphore(in_flight)

    async def send(content: dict[str, Any]) -> str:
        async with gate:
            resp = await client.room_send(room, "m.room.message", content)
        if isinstance(resp, ErrorResponse):
            raise RuntimeError(f"raw send failed: {resp}")
        return str(resp.event_id)

    async def thread(page: Page) -> None:
        root = await send(thread_root_content(ThreadHeader("site", page)))
        events: dict[int, str] = {}
        previous = root
        for comment, parts in rendered[page.id]:
            for index, part in enumerate(parts):
                reply_to = events.get(comment.parent_id) if index == 0 else None
                relation = thread_relation(root, reply_to or previous, falling_back=reply_to is None)
                previous = await send(part_content(part, relation))
                events.setdefault(comment.id, previous)

    started = time.perf_counter()
    await asyncio.gather(*(thread(page) for page in talk.pages))
    elapsed = time.perf_counter() - started
    await client.close()
    return elapsed


# -- the bot --------------------------------------------------------------------------------


def bot_config(
    site_url: str, synapse: SynapseServer, bot: MatrixAccount, room: str, store: Path, pages: list[int]
) -> Config:
    return Config.model_validate(
        {
            "store": {"path": str(store)},
            "log_level": "warning",
            "sites": {
                "site": {
                    "url": site_url,
                    "username": BOT_USERNAME,
                    "app_password": BOT_APP_PASSWORD,
                    "poll_interval": 60,
                    "recheck_interval": 3600,
                }
            },
            "chats": {
                "matrix": {
                    "homeserver": synapse.base_url,
                    "user_id": bot.user_id,
                    "access_token": bot.access_token,
                    "rooms": [room],
                }
            },
            "mirrors": [
                {"name": "m", "site": "site", "pages": pages, "targets": [{"chat": "matrix", "channel": room}]}
            ],
        }
    )


async def bot_backfill(config: Config) -> tuple[float, int, Store, App]:
    store = await Store.open(config.store.path)
    app = App(config, store, build_chats(config, store, interactive=False))  # outbox concurrency as in `run`
    await app.start(poll=False)
    started = time.perf_counter()
    await app.pollers["site"].poll_once()
    assert await app.outbox.wait_idle(3600, horizon=0.5), "the outbox did not drain"
    elapsed = time.perf_counter() - started
    sent = getattr(app.chats["matrix"], "sent", 0)
    return elapsed, sent, store, app


async def check_threads(owner: MatrixUser, room: str, store: Store, talk: Discussion) -> list[str]:
    """Each page's thread, read back from Synapse: its comments once each, in the site's order."""
    problems = []
    threads = {key.post_id: ref for key, ref in await store.threads()}
    for page in talk.pages:
        root = threads.get(page.id)
        if root is None:
            problems.append(f"page {page.id}: no thread")
            continue
        events = await owner.thread(room, root)
        shown = []
        for event in events:
            mapped = await store.lookup_message("matrix", event["event_id"])
            shown.append(mapped.comment_id if mapped else None)
        expected = [c.id for c in talk.comments[page.id]]
        if shown != expected:
            lost = len(set(expected) - set(shown))
            doubled = len(shown) - len(set(shown))
            problems.append(f"page {page.id}: {len(shown)} events for {len(expected)}, {lost} lost, {doubled} doubled")
    return problems


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    who: str
    seconds: float
    synapse_cpu: float  # seconds of Synapse's CPU while it ran
    own_cpu: float  # seconds of this process's CPU (the bot, or the raw client)


async def measured(who: str, synapse: SynapseServer, work: Any) -> Run:
    assert synapse.proc is not None
    server, own, began = cpu_seconds(synapse.proc.pid), time.process_time(), time.perf_counter()
    await work
    return Run(who, time.perf_counter() - began, cpu_seconds(synapse.proc.pid) - server, time.process_time() - own)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--comments", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=12, help="pages, hence Matrix threads (default 12)")
    parser.add_argument("--rounds", type=int, default=2, help="raw-10 then the bot, this many times (default 2)")
    parser.add_argument("--skip-raw1", action="store_true", help="leave out the 1-in-flight reference (saves ~1.5 min)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    workdir = Path(tempfile.mkdtemp(prefix="matrix-bench12-"))
    synapse = await asyncio.to_thread(start_synapse, workdir / "synapse")
    site = SampleSite(interval=0)
    await site.start()
    talk = seed(site, args.threads, args.comments)
    events = args.threads + args.comments
    pages = [p.id for p in talk.pages]
    try:
        owner = MatrixUser(synapse, synapse.register("owner"))

        async def member(who: str) -> tuple[MatrixAccount, str]:
            account = synapse.register(synapse.unique(who))
            room = await owner.create_room(f"Backfill {account.user_id}", invite=[account.user_id])
            user = MatrixUser(synapse, account)
            await user.join(room)
            await user.close()
            return account, room

        await raw_send(
            synapse, *(await member("warmup")), seed(site, 2, 100, FIRST_POST + 1000), 10
        )  # Synapse's caches warm
        print(
            f"{args.comments} comments over {args.threads} threads: {events} events per sender, {args.rounds} rounds\n"
        )
        print(f"{'sender':22} {'seconds':>8} {'events/s':>9} {'Synapse CPU ms/event':>21} {'client CPU ms/event':>20}")
        runs: list[Run] = []
        problems: list[str] = []
        for round_ in range(args.rounds):
            order = ["raw10", "bot"] if round_ % 2 == 0 else ["bot", "raw10"]
            if round_ == 0 and not args.skip_raw1:
                order.append("raw1")
            for who in order:
                account, room = await member(who)
                if who == "bot":
                    config = bot_config(site.base_url, synapse, account, room, workdir / f"bot{round_}.db", pages)
                    done: dict[str, Any] = {}

                    async def backfill(config: Config = config, done: dict[str, Any] = done) -> None:
                        done["result"] = await bot_backfill(config)

                    run = await measured("bot", synapse, backfill())
                    _, sent, store, app = done["result"]
                    assert sent == events, (sent, events)
                    problems += await check_threads(owner, room, store, talk)
                    await app.stop()
                    await store.close()
                else:
                    run = await measured(who, synapse, raw_send(synapse, account, room, talk, int(who[3:])))
                runs.append(run)
                label = {"raw10": "raw, 10 in flight", "raw1": "raw, 1 in flight", "bot": "bot backfill"}[who]
                print(
                    f"{label:22} {run.seconds:8.2f} {events / run.seconds:9.1f} "
                    f"{run.synapse_cpu * 1000 / events:21.2f} {run.own_cpu * 1000 / events:20.2f}"
                )
        await owner.close()

        def total(who: str) -> float:
            return sum(r.seconds for r in runs if r.who == who)

        ratio = total("raw10") / total("bot")
        per_round = [
            f"{a.seconds / b.seconds:.0%}"
            for a, b in zip([r for r in runs if r.who == "raw10"], [r for r in runs if r.who == "bot"], strict=True)
        ]
        print(f"\nbot / raw-10: {ratio:.0%} over {args.rounds} rounds ({', '.join(per_round)}); goal ≥ 65 %")
        if not args.skip_raw1:
            bot, raw1, raw10 = total("bot") / args.rounds, total("raw1"), total("raw10") / args.rounds
            print(f"bot / raw-1: {raw1 / bot:.2f}x; raw-10 / raw-1: {raw1 / raw10:.2f}x")
        checked = args.threads * args.rounds
        print(
            f"threads read back from Synapse: {checked - len(problems)} of {checked} hold every comment once, in order"
            + ("" if not problems else "; PROBLEMS: " + "; ".join(problems))
        )
    finally:
        await site.stop()
        synapse.stop()


if __name__ == "__main__":
    asyncio.run(main())
