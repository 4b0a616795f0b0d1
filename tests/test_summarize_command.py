"""`summarize` end to end: the terminal adapter and the platform-neutral command, through the real App
against the bundled sample site; and the rate limit and cache of the summarizer."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from bot.chats.terminal import TerminalChat
from bot.commands.mirror import HELP, run_command
from bot.commands.summarize import summarizer_for, wants_public
from bot.config import Config, SummarizeSettings
from bot.config import TerminalChat as TerminalSettings
from bot.models import CommandCall
from bot.ratelimit import RateLimiter
from bot.sample_site import BOT_APP_PASSWORD, BOT_USERNAME, MAIN_POST_ID, SampleSite
from bot.summarize import RateLimited, Summarizer
from bot.summarize.render import units
from tests.fake_llm import FakeLLM
from tests.harness import Bot, site_config
from tests.test_summarize import seed_thread


def terminal_bot(site: SampleSite, tmp_path: Path, summarize: dict[str, object] | None = None, **mirror: object):
    out = io.StringIO()
    terminal = TerminalChat(TerminalSettings(color=False, user_name="Ops"), output=out)
    config = site_config(site.base_url, BOT_USERNAME, BOT_APP_PASSWORD, tmp_path / "bot.db", **mirror)
    if summarize is not None:
        config = Config.model_validate({**config.model_dump(mode="python"), "summarize": summarize})
    return Bot(config, {"terminal": terminal}), terminal, out  # type: ignore[dict-item]


def thread_number(out: io.StringIO, title_part: str) -> str:
    match = re.search(r"══ \[(\d+)\] [^\n]*" + re.escape(title_part), out.getvalue())
    assert match, out.getvalue()
    return match.group(1)


def answer_after(out: io.StringIO, mark: int) -> str:
    return out.getvalue()[mark:].rstrip("\n")


async def test_terminal_summarize_end_to_end(site: SampleSite, tmp_path: Path) -> None:
    bot, terminal, out = terminal_bot(site, tmp_path)
    await bot.start()
    await bot.settle()
    ferry = thread_number(out, "Driverless ferry stalls")
    title = site.posts[MAIN_POST_ID].title

    mark = len(out.getvalue())
    await terminal.handle_line(f"summarize {ferry}")
    text = answer_after(out, mark)
    lines = text.split("\n")
    assert lines[0].startswith(f"Summary: {title} · 38 comments by 19 people · 12 threads · longest reply chain 4 · ")
    assert lines[1] == "Main points:" and [line[:3] for line in lines[2:5]] == ["1. ", "2. ", "3. "]
    assert "4. " not in text and "Disagreements:\n• " in text and "Most replied: " in text
    assert lines[-1] == "— offline summary" and units(text) <= 2000
    links = re.findall(r"<(http://127\.0\.0\.1:\d+/[^>]+#comment-(\d+))>", text)
    assert len(links) >= 4
    approved = {c.id for c in site.comments.values() if c.post == MAIN_POST_ID and c.status == "approved"}
    assert {int(cid) for _, cid in links} <= approved

    mark = len(out.getvalue())
    await terminal.handle_line(f"summarize [{ferry}] long")
    long_text = answer_after(out, mark)
    assert "5. " in long_text and long_text.count("\n• ") == 2 and units(long_text) <= 2000

    mark = len(out.getvalue())
    await terminal.handle_line("summarize")  # two threads (two posts): which one?
    assert "Which thread?" in answer_after(out, mark)
    await terminal.handle_line("summarize 99")
    assert "No thread [99]" in out.getvalue()
    await terminal.handle_line("help")
    assert "summarize <thread> [short|long]" in out.getvalue()
    await bot.stop()


async def test_a_new_comment_makes_a_new_summary(site: SampleSite, tmp_path: Path) -> None:
    bot, terminal, out = terminal_bot(site, tmp_path)
    app = await bot.start()
    await bot.settle()
    ferry = thread_number(out, "Driverless ferry stalls")
    mark = len(out.getvalue())
    await terminal.handle_line(f"summarize {ferry}")
    first = answer_after(out, mark)
    mark = len(out.getvalue())
    await terminal.handle_line(f"summarize {ferry}")
    assert answer_after(out, mark) == first  # cached, and the same
    site.add_comment(MAIN_POST_ID, 0, "Late Reader", "I disagree with most of this, honestly.")
    await bot.settle()
    mark = len(out.getvalue())
    await terminal.handle_line(f"summarize {ferry}")
    assert "39 comments by 20 people" in answer_after(out, mark)
    assert summarizer_for(app).limiter._seen["terminal:local"].__len__() == 2  # the cached answer was free
    await bot.stop()


async def test_the_command_outside_a_thread_and_its_arguments(site: SampleSite, tmp_path: Path) -> None:
    bot, terminal, out = terminal_bot(site, tmp_path)
    app = await bot.start()
    await bot.settle()
    ferry_ref = next(ref for ref, n in terminal.thread_numbers.items() if n == int(thread_number(out, "ferry")))
    answers: list[str] = []

    async def respond(text: str) -> None:
        answers.append(text)

    def call(thread_ref: str | None, admin: bool = False, **args: str) -> CommandCall:
        return CommandCall("terminal", "main", thread_ref, "Eve", "eve", admin, "summarize", dict(args), respond)

    assert "ask in a mirrored thread" in await run_command(app, call(None))
    assert "not a mirrored thread" in await run_command(app, call("t-nosuch"))
    assert "length must be short or long (got 'medium')" in await run_command(app, call(ferry_ref, length="medium"))
    assert "public must be yes or no" in await run_command(app, call(ferry_ref, public="maybe"))

    asked = call(ferry_ref, public="yes")  # not an admin: answered, but only to the asker
    text = await run_command(app, asked)
    assert text.startswith("Summary: ") and text.endswith("so this one is just for you.)")
    assert units(text) <= 2000 and not wants_public(asked) and asked.args["public"] == "no"
    admin = call(ferry_ref, admin=True, public="yes")
    assert (await run_command(app, admin)).endswith("— offline summary") and wants_public(admin)
    assert "summarize [short|long]" in HELP
    await app.on_command(call(ferry_ref, length="long"))
    assert answers and answers[-1].startswith("Summary: ")
    await bot.stop()


async def test_rate_limit_per_user(site: SampleSite, tmp_path: Path) -> None:
    bot, terminal, out = terminal_bot(site, tmp_path, summarize={"rate_limit": 1, "rate_window": 600})
    app = await bot.start()
    await bot.settle()
    ferry = thread_number(out, "Driverless ferry stalls")
    await terminal.handle_line(f"summarize {ferry}")
    mark = len(out.getvalue())
    await terminal.handle_line(f"summarize {ferry} long")
    assert answer_after(out, mark) == (
        "Cannot summarize: you have asked for 1 summary in the last 10 min; try again in 10 min"
    )
    ref = next(iter(terminal.thread_numbers))
    other = CommandCall("terminal", "main", ref, "Kim", "kim", False, "summarize", {})
    assert (await run_command(app, other)).startswith("Summary: ")  # limits are per person
    await bot.stop()


async def test_a_thread_per_comment_is_summarized_alone(site: SampleSite, tmp_path: Path) -> None:
    bot, terminal, out = terminal_bot(site, tmp_path, thread_per="comment")
    await bot.start()
    await bot.settle()
    renata = thread_number(out, "Renata Lisk on Driverless ferry")
    mark = len(out.getvalue())
    await terminal.handle_line(f"summarize {renata}")
    text = answer_after(out, mark)
    assert text.startswith("Summary: Renata Lisk on Driverless ferry stalls mid-river")
    assert "· 4 comments by 2 people · 1 thread · longest reply chain 4 · " in text
    assert "Kwame Asante-Reyes" in text and "Hollis" not in text
    await bot.stop()


async def test_terminal_summarize_through_the_llm(site: SampleSite, tmp_path: Path) -> None:
    llm = FakeLLM()
    await llm.start()
    try:
        bot, terminal, out = terminal_bot(
            site, tmp_path, summarize={"llm": {"base_url": llm.base_url, "model": "fake-model", "timeout": 5}}
        )
        await bot.start()
        await bot.settle()
        ferry = thread_number(out, "Driverless ferry stalls")
        mark = len(out.getvalue())
        await terminal.handle_line(f"summarize {ferry}")
        text = answer_after(out, mark)
        assert text.startswith("Summary: Driverless ferry") and text.endswith("— via fake-model")
        assert "1. Topic 1: Readers discuss point 1 of this thread." in text
        [request] = llm.requests
        assert request.body["model"] == "fake-model" and request.body["stream"] is False
        assert "Authorization" not in request.headers  # no key configured, none sent
        llm.mode = "http_500"
        site.add_comment(MAIN_POST_ID, 0, "Late Reader", "One more thought on the ferry.")
        await bot.settle()
        mark = len(out.getvalue())
        await terminal.handle_line(f"summarize {ferry}")
        assert answer_after(out, mark).endswith("— offline summary (the model answered HTTP 500)")
        await bot.stop()
    finally:
        await llm.stop()


# -- cache and rate limit, without a bot --------------------------------------------------------------


async def test_cache_and_rate_limit() -> None:
    now = [0.0]
    summarizer = Summarizer(SummarizeSettings(rate_limit=2, rate_window=60), clock=lambda: now[0])
    thread, _ = seed_thread()
    first = await summarizer.summarize(thread, "short", "u1")
    assert not first.cached and first.made_by == "offline"
    for _ in range(5):
        assert (await summarizer.summarize(thread, "short", "u1")).cached  # free
    assert not (await summarizer.summarize(thread, "long", "u1")).cached
    with pytest.raises(RateLimited) as refused:
        await summarizer.summarize(thread, "short", "u1", limit=1200)
    assert refused.value.retry_after == 60 and "try again in 60 s" in str(refused.value)
    smaller = await summarizer.summarize(thread, "short", "u2", limit=1200)
    assert smaller.text != first.text and units(smaller.text) <= 1200 < units(first.text)
    now[0] = 61
    assert not (await summarizer.summarize(thread, "short", "u1", limit=1100)).cached


def test_rate_limiter_window() -> None:
    now = [0.0]
    limiter = RateLimiter(3, 10, clock=lambda: now[0])
    for t in (0, 1, 2):
        now[0] = t
        limiter.check("a")
        limiter.spend("a")
    with pytest.raises(RateLimited):
        limiter.check("a")
    now[0] = 10.5
    limiter.check("a")  # the first has left the window
    assert RateLimiter(0, 10).check("anyone") is None  # 0: no limit
