"""Prometheus metrics, one registry per running bot (never the process-wide one: tests run many).

Counters are bumped where things happen (the outbox's observer, commands, the webhook); what
the store and the adapters already know (outbox depth and age, poll lag, rate-limit waits) is
read at scrape time, so the hot paths do not change for it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from bot.store import Job, Store

RELAY_KINDS = frozenset({"relay", "relay_edit", "relay_delete"})
PREFIX = "thread_mirror"


def platform_of(job: Job) -> str:
    """Whom a job talks to: a chat's name (matrix, discord, terminal) or "site" for relays."""
    return "site" if job.kind in RELAY_KINDS else str(job.payload.get("chat", "unknown"))


class _RateLimitWaits(Collector):
    """Each chat adapter's own count of rate-limit waits (its `rate_limited` attribute), when it keeps one."""

    def __init__(self, chats: Mapping[str, object]) -> None:
        self.chats = chats

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            f"{PREFIX}_rate_limit_waits", "Times a chat platform told the bot to slow down", labels=["chat"]
        )
        for name, chat in self.chats.items():
            waits = getattr(chat, "rate_limited", None)
            if isinstance(waits, int):
                family.add_metric([name], waits)
        yield family


class Metrics:
    def __init__(self, chats: Mapping[str, object] | None = None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.deliveries = Counter(
            f"{PREFIX}_deliveries", "Outbox jobs done, by peer platform and kind", ["platform", "kind"], registry=r
        )
        self.failures = Counter(
            f"{PREFIX}_delivery_failures", "Outbox jobs given up for good", ["platform", "kind"], registry=r
        )
        self.retries = Counter(f"{PREFIX}_delivery_retries", "Outbox attempts to retry later", ["platform"], registry=r)
        self.delivery_seconds = Histogram(
            f"{PREFIX}_delivery_seconds",
            "Time one successful outbox attempt took",
            ["platform"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.relays = Counter(f"{PREFIX}_relays", "Chat replies posted on a site", ["site", "chat"], registry=r)
        self.summaries = Counter(f"{PREFIX}_summaries", "Summaries asked for, by chat", ["chat"], registry=r)
        self.pushes = Counter(
            f"{PREFIX}_push_notifications", "Push notifications by site and outcome", ["site", "result"], registry=r
        )
        self.poll_lag = Gauge(
            f"{PREFIX}_poll_lag_seconds", "Seconds since a site's last good poll", ["site"], registry=r
        )
        self.site_failing = Gauge(
            f"{PREFIX}_site_failing", "1 while a site's polls fail, else 0", ["site"], registry=r
        )
        self.outbox_depth = Gauge(f"{PREFIX}_outbox_depth", "Deliveries waiting in the outbox", registry=r)
        self.outbox_age = Gauge(
            f"{PREFIX}_outbox_oldest_age_seconds", "Age of the oldest waiting delivery (0: none)", registry=r
        )
        self.outbox_failed = Gauge(f"{PREFIX}_outbox_failed", "Deliveries failed for good (kept)", registry=r)
        if chats is not None:
            r.register(_RateLimitWaits(chats))

    # -- what the rest of the bot calls ----------------------------------------------------

    def job_outcome(self, job: Job, outcome: str, seconds: float) -> None:
        """The outbox's observer."""
        platform = platform_of(job)
        if outcome == "delivered":
            self.deliveries.labels(platform, job.kind).inc()
            self.delivery_seconds.labels(platform).observe(seconds)
            if job.kind == "relay":
                self.relays.labels(str(job.payload.get("site", "")), str(job.payload.get("chat", ""))).inc()
        elif outcome == "retry":
            self.retries.labels(platform).inc()
        elif outcome == "failed":
            self.failures.labels(platform, job.kind).inc()

    def summary(self, chat: str) -> None:
        self.summaries.labels(chat).inc()

    def push(self, site: str, result: str) -> None:
        self.pushes.labels(site, result).inc()

    # -- scraping --------------------------------------------------------------------------

    async def refresh(self, store: Store, sites: Iterable[str]) -> None:
        """Read what the store knows into the gauges (called before each scrape)."""
        now = time.time()
        stats: dict[str, Any] = await store.outbox_stats()
        self.outbox_depth.set(stats["pending"])
        self.outbox_failed.set(stats["failed"])
        oldest = stats["oldest_pending"]
        self.outbox_age.set(max(0.0, now - float(oldest)) if oldest else 0.0)
        for site in sites:
            cursor = await store.get_cursor(site)
            if cursor is not None and cursor.last_ok_at is not None:
                self.poll_lag.labels(site).set(max(0.0, now - cursor.last_ok_at))
            self.site_failing.labels(site).set(1 if cursor is not None and cursor.failing_since else 0)

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """The scrape's body and content type, in the format the scraper asked for."""
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type
