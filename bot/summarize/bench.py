"""Benchmark of the offline summary: `python -m bot.summarize.bench [--sizes 38 100 2000]`.

Each size runs in a fresh process, so the first call pays for importing scikit-learn and numpy as a
running bot does; later calls are warm. Prints time (first call, then the median of warm calls), peak
memory of the process (max RSS) before and after, the peak of Python/numpy allocations during a warm
call (tracemalloc), and the characters of the message. Size 38 is the sample site's ferry discussion;
other sizes are `synthetic_thread`. A first line shows what the lazy import saves an idle bot.

Measured on the project's machine (2 cores, one used), `python -m bot.summarize.bench --repeats 7`:

    bot with the summarize command imported: RSS 46.5 MiB, scikit-learn/numpy/scipy loaded: False;
    after its first summary (1.039s, imports included): RSS 142.5 MiB (+96.0 MiB)
    comments  first call     warm  RSS before  RSS peak  allocated  chars
          38      0.862s   0.017s     57.0 MiB 141.0 MiB    0.1 MiB   1927
         100      0.835s   0.023s     44.4 MiB 130.6 MiB    0.2 MiB   1999
        2000      0.938s   0.198s     45.6 MiB 135.9 MiB    1.7 MiB   1995

Goal (issue 8): 2,000 comments under 0.3 s warm and under 1.5 s for a first call that pays the imports.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from bot.summarize.thread import Thread, ThreadItem

_TOPICS = {
    "fares": "fare ticket refund price monthly pass discount commuters cost expensive",
    "safety": "safety life jackets crew standby emergency rescue patrol boat tow risk",
    "software": "software update navigation radio link shore station fallback sensor outage",
    "council": "council vote budget contract vendor minutes meeting review audit taxpayers",
    "timetable": "timetable crossing delay schedule morning early late pier departure minutes",
    "weather": "weather wind fog storm current river tide winter calm chop",
}
_FILLER = ["the", "a", "it", "was", "is", "and", "but", "we", "they", "this", "that", "for", "on", "to", "of"]
_OPENERS = ["I think", "Honestly", "To be fair", "As a commuter", "My view:", "Look,", "Frankly", "Note that"]
_PUSHBACK = ["No, that's not true.", "I disagree.", "That isn't how it works though.", "Not really, the numbers say"]
_AGREE = ["Exactly.", "Agreed.", "Good point.", "Thanks, useful."]


def synthetic_thread(size: int, seed: int = 1) -> Thread:
    """A made-up discussion: topics, long and short comments, replies (some "@Name"), pushback, a few
    copy-pasted repeats. Deterministic for a (size, seed)."""
    rng = random.Random(seed)
    names = [f"Reader {n:03d}" for n in range(max(8, size // 4))]
    start = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
    items: list[ThreadItem] = []
    topics = list(_TOPICS)
    for n in range(size):
        topic = topics[rng.randrange(len(topics))] if n % 7 else topics[n % 3]
        vocab = _TOPICS[topic].split()
        sentences = []
        for _ in range(rng.choice((1, 1, 2, 3, 4))):
            words = [rng.choice(vocab if rng.random() < 0.55 else _FILLER) for _ in range(rng.randint(6, 18))]
            sentences.append(" ".join(words).capitalize() + ".")
        text = f"{rng.choice(_OPENERS)} " + " ".join(sentences)
        author = rng.choice(names)
        parent: str | None = None
        if items and rng.random() < 0.65:
            target = items[max(0, len(items) - 1 - int(rng.expovariate(1 / 25)))]
            parent = target.key if target.parent is None or rng.random() < 0.5 else target.parent
            if rng.random() < 0.3:
                text = f"@{target.author} {text}"
            roll = rng.random()
            if roll < 0.12:
                text = f"{rng.choice(_PUSHBACK)} {text}"
            elif roll < 0.2:
                text = f"{rng.choice(_AGREE)} {text}"
        if n % 97 == 5 and items:  # a copy-paste repeat
            text = items[n // 2].text
        when = start + timedelta(seconds=30 * n + rng.randrange(30))
        key = 1000 + n
        items.append(ThreadItem(f"c{key}", parent, author, when, text, f"https://example.test/p/#comment-{key}"))
    return Thread(f"Synthetic discussion of {size} comments", "https://example.test/p/", tuple(items))


def ferry_thread() -> Thread:
    """The sample site's busy discussion (38 comments), the way the bot sees it."""
    from bot.convert import html_to_text
    from bot.sample_site import discussion
    from bot.sample_site.wpformat import wpautop

    now = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    pairs = discussion.walk(discussion.FERRY.comments)
    ids = {id(c): 100 + n for n, (c, _) in enumerate(pairs)}
    items = []
    for comment, parent in pairs:
        key = ids[id(comment)]
        items.append(
            ThreadItem(
                f"c{key}",
                f"c{ids[id(parent)]}" if parent else None,
                comment.author,
                now - timedelta(minutes=comment.minutes_ago),
                html_to_text(wpautop(comment.text)),
                f"https://example.test/ferry/#comment-{key}",
            )
        )
    return Thread(discussion.FERRY.title, "https://example.test/ferry/", tuple(items))


def _measure(size: int, repeats: int) -> dict[str, float | int | str]:
    from bot.summarize.extractive import build_digest
    from bot.summarize.render import render_digest, units

    thread = ferry_thread() if size == 38 else synthetic_thread(size)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    text = render_digest(build_digest(thread, "long"), "offline summary", "long")
    first = time.perf_counter() - t0
    warm = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        render_digest(build_digest(thread, "long"), "offline summary", "long")
        warm.append(time.perf_counter() - t0)
    import tracemalloc

    tracemalloc.start()
    build_digest(thread, "long")
    traced_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return {
        "comments": size,
        "traced_peak_mib": round(traced_peak, 1),
        "first_s": round(first, 3),
        "warm_median_s": round(statistics.median(warm), 3),
        "rss_before_mib": round(rss_before, 1),
        "rss_peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "chars": units(text),
    }


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _idle() -> dict[str, float | bool]:
    """What the lazy import saves: the bot with the command loaded, then after its first summary."""
    import bot.commands.summarize
    import bot.core.app  # noqa: F401

    idle = _rss_mib()
    loaded = any(m in sys.modules for m in ("sklearn", "numpy", "scipy"))
    from bot.summarize.extractive import build_digest

    t0 = time.perf_counter()
    build_digest(ferry_thread(), "short")
    first = time.perf_counter() - t0
    return {
        "idle_rss_mib": round(idle, 1),
        "heavy_loaded_when_idle": loaded,
        "first_summary_s": round(first, 3),
        "rss_after_mib": round(_rss_mib(), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[38, 100, 2000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--idle", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one is not None:
        print(json.dumps(_measure(args.one, args.repeats)))
        return 0
    if args.idle:
        print(json.dumps(_idle()))
        return 0
    out = subprocess.run(
        [sys.executable, "-m", "bot.summarize.bench", "--idle"], capture_output=True, text=True, check=True
    )
    idle = json.loads(out.stdout)
    grown = idle["rss_after_mib"] - idle["idle_rss_mib"]
    print(
        f"bot with the summarize command imported: RSS {idle['idle_rss_mib']:.1f} MiB, scikit-learn/numpy/scipy "
        f"loaded: {idle['heavy_loaded_when_idle']}; after its first summary ({idle['first_summary_s']:.3f}s, "
        f"imports included): RSS {idle['rss_after_mib']:.1f} MiB (+{grown:.1f} MiB)"
    )
    print(
        f"{'comments':>8} {'first call':>11} {'warm':>8} {'RSS before':>11} {'RSS peak':>9} {'allocated':>10} "
        f"{'chars':>6}"
    )
    for size in args.sizes:
        out = subprocess.run(
            [sys.executable, "-m", "bot.summarize.bench", "--one", str(size), "--repeats", str(args.repeats)],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout)
        print(
            f"{r['comments']:>8} {r['first_s']:>10.3f}s {r['warm_median_s']:>7.3f}s {r['rss_before_mib']:>8.1f} MiB"
            f" {r['rss_peak_mib']:>5.1f} MiB {r['traced_peak_mib']:>6.1f} MiB {r['chars']:>6}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
