"""Start-up time and idle memory of `thread-mirror run` with 1,000 mirrors and 100,000 stored comments.

    .venv/bin/python bench/startup_scale.py                       # 3 runs, mirrors in config.yaml
    .venv/bin/python bench/startup_scale.py --origin command      # mirrors added by chat commands
    .venv/bin/python bench/startup_scale.py --mirrors 1000 --comments 100000 --runs 3 --idle 10

Seeds a store the way a long-running bot leaves it (in one transaction, straight SQL): the mirrors,
one page each, the comments spread over those pages (a third of them replies), each one's chat
message and its finished outbox job, a chat thread per page, and the site's cursor. The site is the
bundled sample site (a WordPress REST look-alike) served from this process; the chat is the
terminal (no platform library to load, no input). Then, per run, starts `thread-mirror run` as a
process and measures:

- ready: from spawning the process to its `started:` log line (App.start: mirrors synced, chats
  connected, outbox and pollers running);
- idle RSS: VmRSS from /proc/<pid>/status after `--idle` seconds (the first poll has run by then).

Goals: ready in under 2 s, idle RSS under 80 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.sample_site.server import BOT_APP_PASSWORD, BOT_USERNAME, SampleSite
from bot.store import Store

ROOT = Path(__file__).resolve().parent.parent
FIRST_POST = 10_000
HTML = "<p>Comment {i}: the new timetable looks fine, but the night boat still needs work. More words here.</p>"


async def seed(path: Path, site_url: str, mirrors: int, comments: int, origin: str) -> float:
    store = await Store.open(path)  # creates the schema (migrations)
    await store.close()
    started = time.perf_counter()
    now = datetime.now(UTC).replace(microsecond=0)
    first = now - timedelta(seconds=comments + 600)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO mirrors (name, site, pages, url_pattern, thread_per, relay, targets, backfill_days, origin, "
        "created_by, paused, backfilled, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [
            (
                f"m{i}",
                "site",
                json.dumps([FIRST_POST + i]),
                None,
                "page",
                "approved",
                json.dumps([{"chat": "terminal", "channel": f"c{i}"}]),
                None,
                origin,
                "" if origin == "config" else "admin",
                0,
                1,
                time.time(),
            )
            for i in range(mirrors)
        ],
    )
    db.executemany(
        "INSERT INTO pages (site, post_id, url, title, excerpt) VALUES ('site', ?, ?, ?, '')",
        [(FIRST_POST + i, f"{site_url}/bench-{i}/", f"Bench page {i}") for i in range(mirrors)],
    )
    db.executemany(
        "INSERT INTO chat_threads (chat, channel, site, post_id, root_comment_id, thread_ref) "
        "VALUES ('terminal', ?, 'site', ?, 0, ?)",
        [(f"c{i}", FIRST_POST + i, f"thread-{i}") for i in range(mirrors)],
    )
    rows, maps, jobs = [], [], []
    for i in range(comments):
        cid = 100_000 + i
        page = i % mirrors
        parent = cid - 2 * mirrors if i % 3 == 2 and i >= 2 * mirrors else 0
        when = (first + timedelta(seconds=i)).isoformat()
        html = HTML.format(i=i)
        rows.append(
            (cid, FIRST_POST + page, parent, f"Reader {i % 97}", when, f"{site_url}/bench-{page}/#comment-{cid}", html)
        )
        key = f"post_comment:terminal:c{page}:site:{cid}:g0"
        maps.append((f"msg-{cid}", f"c{page}", f"thread-{page}", cid))
        lane = f"thread:terminal:c{page}:site:{FIRST_POST + page}:0"
        payload = {"site": "site", "comment_id": cid, "chat": "terminal", "channel": f"c{page}"}
        jobs.append((key, lane, json.dumps(payload)))
    db.executemany(
        "INSERT INTO comments (site, comment_id, post_id, parent_id, author_name, created_at, link, html, "
        "content_hash, status) VALUES ('site', ?, ?, ?, ?, ?, ?, ?, 'x', 'approved')",
        rows,
    )
    db.executemany(
        "INSERT INTO message_map (chat, message_ref, channel, thread_ref, part, site, comment_id, origin) "
        "VALUES ('terminal', ?, ?, ?, 0, 'site', ?, 'site')",
        maps,
    )
    stamp = time.time()
    db.executemany(
        "INSERT INTO outbox (key, lane, kind, payload, state, attempts, created_at, updated_at) "
        f"VALUES (?, ?, 'post_comment', ?, 'done', 1, {stamp}, {stamp})",
        jobs,
    )
    db.execute(
        "INSERT INTO cursors (site, newest_gmt, last_recheck_at, last_ok_at) VALUES ('site', ?, ?, ?)",
        ((first + timedelta(seconds=comments)).isoformat(), stamp, stamp),
    )
    db.execute("COMMIT")
    db.close()
    return time.perf_counter() - started


def write_config(folder: Path, site_url: str, store: Path, mirrors: int, origin: str) -> Path:
    lines = [
        f"store: {{path: {store}}}",
        "log_level: info",
        "sites:",
        "  site:",
        f"    url: {site_url}",
        f"    username: {BOT_USERNAME}",
        f"    app_password: {BOT_APP_PASSWORD}",
        "    poll_interval: 60",
        "chats:",
        "  terminal: {enabled: true}",
    ]
    if origin == "config":
        lines.append("mirrors:")
        lines += [
            f"  - {{name: m{i}, site: site, pages: [{FIRST_POST + i}], targets: [{{chat: terminal, channel: c{i}}}]}}"
            for i in range(mirrors)
        ]
    else:
        lines.append("mirrors: []")
    path = folder / "config.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in KiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


async def one_run(config: Path, idle: float) -> tuple[float, int, int, list[str]]:
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        str(ROOT / ".venv" / "bin" / "thread-mirror"),
        "run",
        "--config",
        str(config),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert process.stderr is not None
    log: list[str] = []
    ready = None
    try:
        while ready is None:
            line = await asyncio.wait_for(process.stderr.readline(), timeout=120)
            if not line:
                raise RuntimeError("the bot exited before it was ready:\n" + "".join(log))
            log.append(line.decode())
            if " started: " in log[-1]:
                ready = time.perf_counter() - started

        async def keep_reading() -> None:
            assert process.stderr is not None
            while line := await process.stderr.readline():
                log.append(line.decode())

        reader = asyncio.create_task(keep_reading())
        await asyncio.sleep(idle)
        rss, hwm = rss_kib(process.pid)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), timeout=30)
    await reader
    return ready, rss, hwm, log


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mirrors", type=int, default=1000)
    parser.add_argument("--comments", type=int, default=100_000)
    parser.add_argument("--origin", choices=["config", "command"], default="config", help="where the mirrors come from")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds after ready before reading RSS")
    args = parser.parse_args()
    site = SampleSite(interval=0)
    url = await site.start()
    with tempfile.TemporaryDirectory(prefix="startup-bench-") as tmp:
        folder = Path(tmp)
        store = folder / "bot.db"
        took = await seed(store, url, args.mirrors, args.comments, args.origin)
        size = sum(p.stat().st_size for p in folder.glob("bot.db*")) / 2**20  # noqa: ASYNC240
        print(
            f"store: {args.mirrors} mirrors (from {args.origin}), {args.comments} comments with their chat "
            f"messages and finished jobs; {size:.0f} MiB, seeded in {took:.1f}s"
        )
        config = write_config(folder, url, store, args.mirrors, args.origin)
        results = []
        for run in range(args.runs):
            ready, rss, hwm, log = await one_run(config, args.idle)
            problems = [line for line in log if " ERROR " in line or "Traceback" in line]
            results.append((ready, rss, hwm))
            print(
                f"run {run + 1}: ready {ready:.2f}s; after {args.idle:g}s idle RSS {rss / 1024:.1f} MiB "
                f"(peak {hwm / 1024:.1f} MiB){'; ERRORS: ' + problems[0].strip() if problems else ''}"
            )
            os.sync()
    await site.stop()
    readies = [r[0] for r in results]
    rsses = [r[1] / 1024 for r in results]
    print(
        f"\nready: median {statistics.median(readies):.2f}s (goal < 2 s: {statistics.median(readies) / 2:.0%} of it); "
        f"idle RSS: median {statistics.median(rsses):.1f} MiB (goal < 80 MB = 76.3 MiB: "
        f"{statistics.median(rsses) / 76.29:.0%} of it)"
    )


if __name__ == "__main__":
    asyncio.run(main())
