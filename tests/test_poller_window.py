"""Polls close together stay cheap: they list from the newest second, skip what the last listing
already showed, and still re-read the whole overlap every OVERLAP_EVERY seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import bot.core.poller as poller_module
from bot.sample_site.server import BOT_APP_PASSWORD, BOT_USERNAME, SampleSite
from tests.harness import Bot, site_config
from tests.recording_chat import RecordingChat


async def started_bot(site: SampleSite, tmp_path: Path, chat: RecordingChat) -> Bot:
    config = site_config(site.base_url, BOT_USERNAME, BOT_APP_PASSWORD, tmp_path / "bot.db")
    quiet = config.sites["site"].model_copy(update={"recheck_interval": 3600})  # no edit-window re-read
    config = config.model_copy(update={"sites": {"site": quiet}})
    bot = Bot(config, {"terminal": chat})
    await bot.start()
    await bot.settle()  # the backfill
    return bot


async def test_fast_polls_list_the_newest_second_and_skip_what_they_saw(
    site: SampleSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = RecordingChat(name="terminal")
    bot = await started_bot(site, tmp_path, chat)
    assert bot.app is not None
    poller = bot.app.pollers["site"]
    source = bot.app.sources["site"]
    afters: list[datetime | None] = []
    listing = source.list_comments

    async def spy(after: datetime | None) -> Any:
        afters.append(after)
        return await listing(after)

    monkeypatch.setattr(source, "list_comments", spy)
    planned: list[list[int]] = []
    plan_and_record = poller._plan_and_record

    async def spy_plan(fetched: Any, *args: Any) -> Any:
        planned.append([c.id for c in fetched])
        return await plan_and_record(fetched, *args)

    monkeypatch.setattr(poller, "_plan_and_record", spy_plan)
    post = min(site.posts)
    now = datetime.now(UTC).replace(microsecond=0)
    first = site.add_comment(post, 0, "Ann", "<p>One.</p>", when=now)
    plan = await poller.poll_once()  # the first poll after the backfill reads the whole overlap
    assert plan.new == 1 and afters[-1] is not None and afters[-1] <= now - poller_module.OVERLAP
    second = site.add_comment(post, 0, "Ben", "<p>Two.</p>", when=now)
    plan = await poller.poll_once()
    assert afters[-1] == now - poller_module.SAME_SECOND  # (after= is strict: the newest second again)
    assert plan.new == 1 and planned[-1] == [second["id"]]  # "One." was listed again, and skipped
    site.edit_comment(int(first["id"]), "<p>One, edited.</p>")
    plan = await poller.poll_once()
    assert plan.edited == 1 and planned[-1] == [first["id"]]
    plan = await poller.poll_once()
    assert planned[-1] == [] and plan.upserts == [] and plan.jobs == []

    # A comment stored late, with a time before the newest second, waits for the next overlap read.
    late = site.add_comment(post, 0, "Cy", "<p>Late.</p>", when=now - timedelta(seconds=30))
    assert (await poller.poll_once()).new == 0
    monkeypatch.setattr(poller_module, "OVERLAP_EVERY", 0.0)
    plan = await poller.poll_once()
    assert plan.new == 1 and plan.upserts[0][0].id == late["id"]
    assert await bot.app.outbox.wait_idle(30)
    shown = [m.comment_id for m in chat.visible()]
    assert all(shown.count(i) == 1 for i in (first["id"], second["id"], late["id"]))
    await bot.stop()
