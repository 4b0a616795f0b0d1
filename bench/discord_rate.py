"""How fast the bot delivers into a rate-limited Discord channel, next to what the bucket allows.

Runs the real bot (App, outbox, Discord adapter on discord.py) against the bundled sample site
(a WordPress look-alike) and the fake Discord from the tests, whose rate-limit buckets answer
with Discord's headers and 429s. A burst of comments is mirrored; the rate is counted from the
requests the fake accepted (first to last), so it is what Discord would have seen.

    .venv/bin/python bench/discord_rate.py                 # the default scenarios
    .venv/bin/python bench/discord_rate.py --comments 60 --limit 5 --per 2
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.sample_site.server import BOT_APP_PASSWORD, BOT_USERNAME, SampleSite
from tests.fake_discord import FakeDiscord
from tests.fake_discord.model import MANAGE_WEBHOOKS
from tests.fake_discord.server import RequestRecord
from tests.fake_discord.support import DiscordBot, bot_config, discord_config

WEBHOOK_EXECUTE = "POST webhooks/{webhook_id}/{webhook_token}"
BOT_MESSAGE = "POST channels/{channel_id}/messages"


@dataclass
class Scenario:
    name: str
    route: str  # the bucket that limits the deliveries
    thread_per: str = "page"
    webhooks: bool = True
    forced_429: int = 0


@dataclass
class Result:
    scenario: Scenario
    delivered: int
    expected: int
    seconds: float
    served_429: int
    allowed: float

    @property
    def rate(self) -> float:
        """Deliveries per second after the first one (the first opens the clock)."""
        return (self.delivered - 1) / self.seconds if self.seconds > 0 else float("inf")


def comment_requests(fake: FakeDiscord, scenario: Scenario, channel_id: int) -> list[RequestRecord]:
    """The requests that posted comments (not the threads' starter messages)."""
    attempts = fake.requests_to(scenario.route)
    if scenario.route == BOT_MESSAGE:
        attempts = [r for r in attempts if int(r.path.split("/")[1]) != channel_id]
    return attempts


def delivered(fake: FakeDiscord, scenario: Scenario, channel_id: int) -> int:
    return sum(1 for r in comment_requests(fake, scenario, channel_id) if r.status == 200)


async def run(scenario: Scenario, comments: int, limit: int, per: float) -> Result:
    site = SampleSite(interval=0)
    await site.start()
    fake = FakeDiscord()
    guild = fake.add_guild()
    channel = fake.add_channel(guild, "comments")
    if not scenario.webhooks:
        fake.deny(channel, fake.bot_role(guild).id, MANAGE_WEBHOOKS)
    await fake.start()
    post_id = min(site.posts)
    start = datetime.now(UTC) - timedelta(hours=1)
    tops: list[int] = []
    for i in range(comments):
        parent = 0 if scenario.thread_per == "page" or i % 4 == 0 else tops[-1]
        when = start + timedelta(seconds=i)
        made = site.add_comment(post_id, parent, f"Reader {i}", f"<p>Comment {i} of the burst.</p>", when=when)
        if parent == 0:
            tops.append(int(made["id"]))
    expected = sum(1 for c in site.comments.values() if c.post == post_id and c.status == "approved")
    with tempfile.TemporaryDirectory() as tmp, fake.patch_discord_py():
        store = Path(tmp) / "bench.db"
        config = bot_config(
            site.base_url,
            BOT_USERNAME,
            BOT_APP_PASSWORD,
            store,
            discord_config(fake, [guild.id], store),
            [{"chat": "discord", "channel": str(channel.id)}],
            pages=[post_id],
            thread_per=scenario.thread_per,
            backfill_days=None,
        )
        bot = DiscordBot(config)
        await bot.start()
        fake.rate_limit(scenario.route, limit, per)
        if scenario.forced_429:
            fake.force_429(scenario.route, scenario.forced_429, per)
        began = time.monotonic()
        await bot.settle(within=600)
        # A retry may be scheduled further ahead than settle() looks (a long retry_after): wait for it.
        await fake.wait_for(lambda: delivered(fake, scenario, channel.id) >= expected, within=600, what="every comment")
        await bot.settle(within=600)
        elapsed = time.monotonic() - began
        await bot.stop()
    attempts = comment_requests(fake, scenario, channel.id)
    accepted = [r for r in attempts if r.status == 200]
    # from the first attempt (429s included) to the last accepted delivery
    seconds = accepted[-1].at - attempts[0].at if len(accepted) > 1 else elapsed
    await fake.stop()
    await site.stop()
    threads = max(1, len(fake.threads_in(channel.id)))
    # Webhook buckets are per webhook (one per channel); bot messages are limited per thread.
    allowed = limit / per * (threads if scenario.route == BOT_MESSAGE else 1)
    return Result(scenario, len(accepted), expected, seconds, fake.limiter.served_429, allowed)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--comments", type=int, default=40, help="comments in the burst (default 40)")
    parser.add_argument("--limit", type=int, default=5, help="requests per window (Discord's webhooks: 5)")
    parser.add_argument("--per", type=float, default=2.0, help="window in seconds (Discord's webhooks: 2)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    scenarios = [
        Scenario("webhook, one thread", WEBHOOK_EXECUTE),
        Scenario("webhook, a thread per comment", WEBHOOK_EXECUTE, thread_per="comment"),
        Scenario("webhook, plus forced 429s", WEBHOOK_EXECUTE, forced_429=5),
        Scenario("bot messages, one thread", BOT_MESSAGE, webhooks=False),
    ]
    print(f"burst of {args.comments} comments (plus the page's own); bucket {args.limit} per {args.per:g} s\n")
    print(f"{'scenario':34} {'delivered':>10} {'seconds':>8} {'rate/s':>7} {'allowed/s':>9} {'429s':>5}")
    for scenario in scenarios:
        result = await run(scenario, args.comments, args.limit, args.per)
        ok = "" if result.delivered == result.expected else f"  (expected {result.expected}!)"
        print(
            f"{scenario.name:34} {result.delivered:>10} {result.seconds:>8.2f} {result.rate:>7.2f} "
            f"{result.allowed:>9.2f} {result.served_429:>5}{ok}"
        )


if __name__ == "__main__":
    asyncio.run(main())
