"""Site → chat delay on loopback, push mode and poll mode side by side in one run.

    PYTHONPATH=. .venv/bin/python bench/push_delay.py [--comments 40] [--poll-interval 2]

Starts a real WordPress the way the test suite does (tests/realwp.py; needs root) with the companion
plugin (integrations/wordpress/) as a must-use plugin, and one bot with two site entries for that
same WordPress:

- `push`: push_secret set, poll_interval 600 s (so only pushes can explain a fast delivery);
- `poll`: no push, poll_interval `--poll-interval` (the mode without the plugin).

Each mirrors the post into its own channel of a recording chat that notes when a comment arrives.
Comments are then posted through the REST API at random gaps (so they land at random points of the
poll cycle); for each, the delay is measured from just before the request that creates it until it
reaches each channel. Goals: push under 300 ms; poll under the interval + 300 ms.

It also reports how long the site took to answer the commenter's request with the plugin sending
(notifications go out at `shutdown`) and, before the plugin is pointed at the bot, without.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config import Config
from bot.core.app import App
from bot.models import MirroredComment
from bot.store import Store
from tests.matrix_bot import eventually
from tests.realwp import RealWordPress, start_wordpress
from tests.recording_chat import RecordingChat

SECRET = "bench-push-secret"
PLUGIN = Path(__file__).resolve().parent.parent / "integrations" / "wordpress" / "thread-mirror-push.php"
PUSH_GOAL = 0.300


class TimingChat(RecordingChat):
    """Notes when each comment reaches each channel."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: dict[tuple[str, int], float] = {}

    async def send_comment(
        self, channel: str, thread_ref: str, message: MirroredComment, key: str, resuming: bool
    ) -> list[str]:
        self.arrived.setdefault((channel, message.comment.id), time.monotonic())
        return await super().send_comment(channel, thread_ref, message, key, resuming)


def bench_config(wp: RealWordPress, store: Path, poll_interval: float) -> Config:
    def mirror(site: str) -> dict[str, Any]:
        return {"name": site, "site": site, "relay": "off", "targets": [{"chat": "terminal", "channel": site}]}

    return Config.model_validate(
        {
            "store": {"path": str(store)},
            "log_level": "warning",
            "sites": {
                "push": {"url": wp.base_url, "poll_interval": 600, "push_secret": SECRET},
                "poll": {"url": wp.base_url, "poll_interval": poll_interval, "recheck_interval": 3600},
            },
            "chats": {"terminal": {"enabled": True}},
            "mirrors": [mirror("push"), mirror("poll")],
            "http": {"port": 0},
        }
    )


def spread(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[max(0, round(0.9 * len(ordered)) - 1)]
    return (
        f"median {statistics.median(ordered) * 1000:6.0f} ms   p90 {p90 * 1000:6.0f} ms   "
        f"max {ordered[-1] * 1000:6.0f} ms   min {ordered[0] * 1000:5.0f} ms"
    )


Sent = dict[int, tuple[float, float]]  # comment id → (monotonic time before its request, request seconds)


async def post_comments(wp: RealWordPress, post_id: int, n: int, tag: str, gap: float) -> Sent:
    """Posts n comments at random gaps."""
    sent: Sent = {}
    for i in range(n):
        await asyncio.sleep(random.uniform(0.25, gap))
        started = time.monotonic()
        comment = await asyncio.to_thread(wp.add_comment, post_id, f"{tag} comment {i} at {time.time():.3f}", "Bench")
        sent[int(comment["id"])] = (started, time.monotonic() - started)
    return sent


async def run(comments: int, poll_interval: float, workdir: Path) -> None:
    wp = start_wordpress(workdir / "wordpress")
    store = await Store.open(workdir / "bot.db")
    chat = TimingChat()
    app = App(bench_config(wp, workdir / "bot.db", poll_interval), store, {"terminal": chat})
    try:
        wp.install_mu_plugin(PLUGIN)
        wp.set_option("thread_mirror_push_secret", SECRET)
        post = wp.create_post("Push or poll", "<p>Which is faster?</p>")
        await app.start()
        assert app.web is not None
        await eventually(lambda: _polled(app), within=30, what="the first polls")

        # Without the plugin sending: the commenter's request time alone.
        baseline = await post_comments(wp, post["id"], 10, "baseline", 0.5)
        wp.set_option("thread_mirror_push_url", f"http://127.0.0.1:{app.web.port}/hooks/wordpress/push")
        await asyncio.sleep(poll_interval + 1)  # the poll channel takes the baseline comments first

        print(f"posting {comments} comments at random gaps of 0.25–{poll_interval + 0.5:g} s ...", flush=True)
        sent = await post_comments(wp, post["id"], comments, "measured", poll_interval + 0.5)
        with contextlib.suppress(AssertionError):  # the report counts what is missing
            await eventually(lambda: _arrived(chat, sent), within=poll_interval + 10)
        report(chat, sent, baseline, poll_interval)
    finally:
        await app.stop()
        await store.close()
        wp.stop()


async def _polled(app: App) -> bool:
    return all(p.cycles > 0 for p in app.pollers.values())


async def _arrived(chat: TimingChat, sent: Sent) -> bool:
    return all((channel, cid) in chat.arrived for cid in sent for channel in ("push", "poll"))


def report(chat: TimingChat, sent: Sent, baseline: Sent, interval: float) -> None:
    missing = {ch: [c for c in sent if (ch, c) not in chat.arrived] for ch in ("push", "poll")}
    delays = {ch: [chat.arrived[(ch, c)] - sent[c][0] for c in sent if (ch, c) in chat.arrived] for ch in missing}
    print(f"\nsite → chat delay, from just before the comment's REST request ({len(sent)} comments):")
    print(f"  push          {spread(delays['push'])}   missing {len(missing['push'])}")
    print(f"  poll ({interval:g} s)  {spread(delays['poll'])}   missing {len(missing['poll'])}")
    push_p90 = sorted(delays["push"])[max(0, round(0.9 * len(delays["push"])) - 1)]
    poll_goal = interval + PUSH_GOAL
    push_max = max(delays["push"])
    goal = f"goal push < {PUSH_GOAL * 1000:.0f} ms"
    print(f"{goal}: p90 is {push_p90 / PUSH_GOAL:.2f} of it, max {push_max / PUSH_GOAL:.2f}")
    print(f"goal poll < {poll_goal * 1000:.0f} ms: max is {max(delays['poll']) / poll_goal:.2f} of it")
    print("\nthe commenter's request (REST POST /wp/v2/comments) took:")
    print(f"  plugin sending    {spread([s for _, s in sent.values()])}")
    print(f"  plugin not aimed  {spread([s for _, s in baseline.values()])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--comments", type=int, default=40)
    parser.add_argument("--poll-interval", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="push-delay-") as tmp:
        asyncio.run(run(args.comments, args.poll_interval, Path(tmp)))


if __name__ == "__main__":
    main()
