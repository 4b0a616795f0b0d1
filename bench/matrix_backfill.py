"""Matrix adapter timings against a real Synapse and a real WordPress on this machine.

    PYTHONPATH=. .venv/bin/python bench/matrix_backfill.py [--comments 500] [--delay-samples 20]

Starts Synapse and WordPress the way the test suite does (tests/synapse.py, tests/realwp.py; needs
root for WordPress), puts `--comments` comments on one post (a third of them replies), and measures:

1. raw matrix-nio: one thread root and N threaded `room_send`s in a plain sequential loop, with
   content of the same shape and size as the bot's (the floor for one thread: one lane, in order);
2. the bot's backfill of the same comments: App + WordPress source + Matrix adapter, from the
   first poll until the outbox is idle, every comment a threaded event (thread_per: page);
3. the same backfill with thread_per: comment (one thread, hence one outbox lane, per top-level
   comment, so lanes run side by side);
4. site → Matrix delay: a comment is created on WordPress, then one poll runs; the time from the
   poll's start until a second user's sync receives the event (the bot's part; a real deployment
   adds the wait for the next poll, on average half of `poll_interval`).

All bot users are exempt from Synapse's message rate limit (as a bridge or bot account usually is:
at the default 0.2 messages/s a 500-comment backfill takes ~42 minutes whatever the client does).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nio import AsyncClient, SyncResponse

from bot.chats.matrix.content import part_content, render_comment, thread_relation, thread_root_content
from bot.models import Comment, MirroredComment, Page, ThreadHeader
from tests.matrix_bot import MatrixBot, matrix_config
from tests.realwp import RealWordPress, start_wordpress
from tests.synapse import MatrixAccount, MatrixUser, SynapseServer, start_synapse

TEXT = (
    "<p>Comment {i}: the new timetable looks {mood}, but the {thing} still needs work. "
    'See <a href="https://example.org/ferry/{i}">the notice</a> and the <em>winter</em> plan.</p>'
    "<p>{tail}</p>"
)
MOODS = ["sensible", "odd", "promising", "rushed", "fine"]
THINGS = ["night boat", "bike rack", "café", "gangway", "ticket machine"]


def seed(wp: RealWordPress, comments: int, title: str) -> int:
    """A post with `comments` approved comments a second apart; every third one answers an earlier one."""
    post = wp.create_post(title, "<p>Benchmark discussion.</p>")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=comments + 60)
    rows = []
    for i in range(comments):
        when = (start + timedelta(seconds=i)).strftime("%Y-%m-%d %H:%M:%S")
        html = TEXT.format(i=i, mood=MOODS[i % 5], thing=THINGS[i % 5], tail="More words here. " * (i % 7 + 1))
        rows.append({"text": html, "author": f"Reader {i % 37}", "when": when, "reply": i % 3 == 2})
    payload = json.dumps({"post": post["id"], "rows": rows}).replace("\\", "\\\\").replace("'", "\\'")
    wp.php_eval(
        f"$d = json_decode('{payload}', true); $ids = [];"
        "foreach ($d['rows'] as $n => $r) {"
        "  $parent = ($r['reply'] && $ids) ? $ids[intdiv(count($ids) * 7, 10)] : 0;"
        "  $ids[] = wp_insert_comment(['comment_post_ID' => $d['post'], 'comment_content' => $r['text'],"
        "    'comment_author' => $r['author'], 'comment_author_email' => 'r@example.test',"
        "    'comment_approved' => 1, 'comment_date_gmt' => $r['when'], 'comment_date' => $r['when'],"
        "    'comment_parent' => $parent]);"
        "}"
    )
    return int(post["id"])


async def raw_loop(synapse: SynapseServer, account: MatrixAccount, room: str, n: int) -> float:
    """N threaded sends in a plain loop: same content shape and size as the bot's messages."""
    client = AsyncClient(synapse.base_url, account.user_id, device_id=account.device_id)
    client.access_token, client.user_id = account.access_token, account.user_id
    page = Page("site", 1, "https://example.org/p/", "Raw loop", "")
    started = time.perf_counter()
    resp = await client.room_send(room, "m.room.message", thread_root_content(ThreadHeader("site", page)))
    root = previous = resp.event_id
    for i in range(n):
        html = TEXT.format(i=i, mood=MOODS[i % 5], thing=THINGS[i % 5], tail="More words here. " * (i % 7 + 1))
        comment = Comment("site", i + 1, 1, 0, f"Reader {i % 37}", datetime.now(UTC), html, f"{page.url}#c-{i}")
        [part] = render_comment(MirroredComment(comment, page.title))
        content = part_content(part, thread_relation(root, previous, True))
        resp = await client.room_send(room, "m.room.message", content)
        previous = resp.event_id
    elapsed = time.perf_counter() - started
    await client.close()
    return elapsed


async def backfill(
    wp: RealWordPress, synapse: SynapseServer, bot: MatrixAccount, room: str, post_id: int, workdir: Path, mode: str
) -> tuple[float, float, int]:
    config = matrix_config(wp, synapse, bot, [room], workdir / f"bot-{mode}.db", pages=[post_id], thread_per=mode)
    runner = MatrixBot(config)
    await runner.start()
    assert runner.app is not None
    started = time.perf_counter()
    for poller in runner.app.pollers.values():
        await poller.poll_once()
    polled = time.perf_counter() - started
    await runner.drain(within=3600)
    elapsed = time.perf_counter() - started
    sent = runner.chat.sent
    await runner.stop()
    return polled, elapsed, sent


async def delay(
    wp: RealWordPress, synapse: SynapseServer, bot: MatrixAccount, workdir: Path, samples: int
) -> list[float]:
    owner = MatrixUser(synapse, synapse.register(synapse.unique("watcher")))
    room = await owner.create_room("Delay", invite=[bot.user_id])
    post_id = await asyncio.to_thread(seed, wp, 1, "Delay post")
    # No re-read of the edit window during the samples (the tests' config re-reads every second).
    config = matrix_config(wp, synapse, bot, [room], workdir / "bot-delay.db", pages=[post_id], recheck_interval=3600)
    runner = MatrixBot(config)
    await runner.start()
    await runner.drain()
    assert runner.app is not None
    poller = next(iter(runner.app.pollers.values()))
    await poller.poll_once()
    await runner.drain()
    # The watcher syncs continuously and notes when each of the bot's events arrives.
    arrivals: dict[str, float] = {}
    sync = await owner.client.sync(timeout=0)
    token = sync.next_batch

    async def watch() -> None:
        nonlocal token
        while True:
            resp = await owner.client.sync(timeout=30000, since=token)
            if isinstance(resp, SyncResponse):
                token = resp.next_batch
                for info in resp.rooms.join.values():
                    for event in info.timeline.events:
                        arrivals.setdefault(event.event_id, time.perf_counter())

    watcher = asyncio.create_task(watch())
    results: list[tuple[float, float, float]] = []  # poll done, event accepted, event seen
    assert runner.store is not None
    for i in range(samples):
        made = await asyncio.to_thread(wp.add_comment, post_id, f"Delay sample {i} at {time.time()}", "Sampler")
        started = time.perf_counter()
        await poller.poll_once()
        polled = time.perf_counter()
        # Busy-waiting on purpose (1 ms): these are the moments being measured.
        while not (parts := await runner.store.message_parts("site", made["id"], "matrix", room)):  # noqa: ASYNC110
            await asyncio.sleep(0.001)
        accepted = time.perf_counter()
        while parts[0].message_ref not in arrivals:  # noqa: ASYNC110
            await asyncio.sleep(0.001)
        results.append((polled - started, accepted - started, arrivals[parts[0].message_ref] - started))
    watcher.cancel()
    await runner.stop()
    await owner.close()
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--comments", type=int, default=500)
    parser.add_argument("--delay-samples", type=int, default=20)
    parser.add_argument("--only", choices=["backfill", "delay"], help="run one part")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="matrix-bench-"))
    synapse = await asyncio.to_thread(start_synapse, workdir / "synapse")
    wp = await asyncio.to_thread(start_wordpress, workdir / "wordpress")
    try:
        owner = MatrixUser(synapse, synapse.register("owner"))
        raw = synapse.register("raw")
        raw_room = await owner.create_room("Raw loop", invite=[raw.user_id])
        raw_user = MatrixUser(synapse, raw)
        await raw_user.join(raw_room)
        await raw_user.close()
        if args.only != "delay":
            t0 = time.perf_counter()
            post_id = await asyncio.to_thread(seed, wp, args.comments, "Benchmark, per page")
            post2 = await asyncio.to_thread(seed, wp, args.comments, "Benchmark, per comment")
            print(f"seeded 2 × {args.comments} comments in {time.perf_counter() - t0:.1f}s")

            raw_time = await raw_loop(synapse, raw, raw_room, args.comments)
            print(f"raw matrix-nio loop: root + {args.comments} threaded sends in {raw_time:.2f}s "
                  f"({(args.comments + 1) / raw_time:.0f} events/s)")  # fmt: skip

            for mode, post in (("page", post_id), ("comment", post2)):
                bot = synapse.register(synapse.unique("bot"))
                room = await owner.create_room(f"Backfill {mode}", invite=[bot.user_id])
                polled, elapsed, sent = await backfill(wp, synapse, bot, room, post, workdir, mode)
                print(
                    f"bot backfill, thread_per {mode}: {sent} events in {elapsed:.2f}s "
                    f"({sent / elapsed:.0f} events/s; first poll incl. WordPress listing {polled:.2f}s)"
                )

        if args.only != "backfill":
            bot = synapse.register(synapse.unique("bot"))
            samples = await delay(wp, synapse, bot, workdir, args.delay_samples)
            print(f"site → Matrix, {len(samples)} samples (ms from the poll's start; median [min–max]):")
            steps = (
                "poll done (WordPress listing + planning)",
                "event accepted by Synapse",
                "event in another user's sync",
            )
            for index, label in enumerate(steps):
                ms = sorted(s[index] * 1000 for s in samples)
                print(f"  {label}: {statistics.median(ms):.0f} [{ms[0]:.0f}–{ms[-1]:.0f}]")
        await owner.close()
    finally:
        wp.stop()
        synapse.stop()


if __name__ == "__main__":
    asyncio.run(main())
