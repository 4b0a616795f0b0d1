"""Operating the bot: terminal commands, crash recovery of relays, a site that is down, secrets in logs,
and the `check` and `backfill` commands."""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import Path

import pytest

from bot.chats.terminal import TerminalChat
from bot.cli import main
from bot.config import Config
from bot.config import TerminalChat as TerminalSettings
from bot.core.app import App
from bot.models import ChatMessage
from bot.sample_site.server import BOT_APP_PASSWORD, BOT_USERNAME, SampleSite
from bot.store import NewJob, Store
from tests.harness import Bot, site_config
from tests.recording_chat import RecordingChat


async def test_terminal_admin_commands_change_mirrors_and_survive_a_restart(site: SampleSite, tmp_path: Path) -> None:
    out = io.StringIO()
    terminal = TerminalChat(TerminalSettings(color=False, user_name="Ops"), output=out)
    config = site_config(site.base_url, BOT_USERNAME, BOT_APP_PASSWORD, tmp_path / "bot.db")
    bot = Bot(config, {"terminal": terminal})  # type: ignore[dict-item]
    await bot.start()
    second_post = sorted(site.posts)[-1]
    url = site.post_link(site.posts[second_post])
    await terminal.handle_line(f"mirror add {url} channel=side mode=comment relay=pending name=side")
    assert "Added side:" in out.getvalue()
    await terminal.handle_line("mirror pause side")
    await terminal.handle_line("mirror list")
    assert "side [paused]" in out.getvalue() and "thread per comment, relay pending" in out.getvalue()
    await terminal.handle_line("mirror remove m")
    assert "defined in the config file" in out.getvalue()
    await terminal.handle_line("mirror resume nosuch")
    assert "no mirror named 'nosuch'" in out.getvalue()
    await bot.settle()
    await terminal.handle_line("mirror status")
    assert "site site: ok" in out.getvalue() and "deliveries: 0 waiting" in out.getvalue()

    await bot.restart()
    mirror = await bot.app.store.get_mirror("side")  # type: ignore[union-attr]
    assert mirror is not None and mirror.paused and mirror.thread_per == "comment"
    await terminal.handle_line("mirror remove side")
    assert "Removed side" in out.getvalue()
    await bot.stop()


async def test_mirror_commands_are_refused_to_non_admins(site: SampleSite, tmp_path: Path) -> None:
    from bot.models import CommandCall

    answers: list[str] = []

    async def respond(text: str) -> None:
        answers.append(text)

    config = site_config(site.base_url, BOT_USERNAME, BOT_APP_PASSWORD, tmp_path / "bot.db")
    bot = Bot(config, {"terminal": RecordingChat()})
    app = await bot.start()
    for name in ("mirror add", "mirror remove", "mirror pause", "mirror list", "mirror status"):
        await app.on_command(CommandCall("terminal", "main", None, "Eve", "eve", False, name, {"name": "m"}, respond))
    assert len(answers) == 5 and all("only admins" in a for a in answers)
    assert (await app.store.get_mirror("m")) is not None
    await bot.stop()


async def test_a_relay_that_reached_the_site_before_a_crash_is_not_posted_again(
    site: SampleSite, tmp_path: Path
) -> None:
    chat = RecordingChat()
    config = site_config(site.base_url, BOT_USERNAME, BOT_APP_PASSWORD, tmp_path / "bot.db")
    bot = Bot(config, {"terminal": chat})
    app = await bot.start()
    await bot.settle()
    answered = chat.visible()[0]
    message = ChatMessage(
        "terminal", "main", answered.thread_ref, "human-9", "Kit", "kit", "Crash-proof hello", answered.ref
    )
    job = await app.chat2site.plan(message)
    assert isinstance(job, NewJob)
    await app.store.enqueue([job])
    # The previous process posted it, then died before recording that it had:
    [queued] = await app.store.next_jobs(10**10, set(), 1)
    await app.store.start_attempt(queued.id)
    source = app.sources["site"]
    await source.post_reply(
        job.payload["post_id"], job.payload["parent_id"], job.payload["author_name"], job.payload["html"], "approved"
    )
    await bot.restart()
    await bot.settle()
    await bot.settle(recheck=True)
    mine = [c for c in site.comments.values() if c.author_name == "Kit (via terminal)"]
    assert len(mine) == 1
    assert (await bot.app.store.lookup_message("terminal", "human-9")).comment_id == mine[0].id  # type: ignore[union-attr]
    assert all(s.comment_id != mine[0].id for s in chat.visible())  # and it was not echoed
    await bot.stop()


async def test_a_site_that_is_down_is_retried_with_backoff_and_reported(tmp_path: Path) -> None:
    config = site_config("http://127.0.0.1:9/", None, None, tmp_path / "bot.db", relay="off")
    store = await Store.open(tmp_path / "bot.db")
    app = App(config, store, {"terminal": RecordingChat()})  # type: ignore[dict-item]
    await app.start()
    await asyncio.sleep(0.5)
    cursor = await store.get_cursor("site")
    assert cursor is not None and cursor.failing_since is not None and "cannot reach" in (cursor.last_error or "")
    status = "\n".join(await app.status_lines(None))
    assert "site site: FAILING since" in status
    await app.stop()
    await store.close()


async def test_secrets_never_reach_the_logs(site: SampleSite, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from bot.logs import RedactSecrets

    caplog.set_level(logging.DEBUG)
    caplog.handler.addFilter(RedactSecrets([BOT_APP_PASSWORD]))
    config = site_config(site.base_url, BOT_USERNAME, "wrong wrong wrong wrong", tmp_path / "bot.db")
    bot = Bot(config, {"terminal": RecordingChat()})
    app = await bot.start()
    with pytest.raises(Exception, match="application password rejected"):
        await app.pollers["site"].poll_once()
    logging.getLogger("test").error("leaked %s", BOT_APP_PASSWORD)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "leaked ***" in text
    assert BOT_APP_PASSWORD not in text and BOT_APP_PASSWORD.replace(" ", "") not in text
    assert "wrong wrong" not in repr(config)
    await bot.stop()


def write_config(path: Path, config: Config, url: str) -> None:
    path.write_text(
        f"store: {{path: {config.store.path}}}\n"
        f"sites:\n  sample:\n    url: {url}\n    username: {BOT_USERNAME}\n    app_password: ${{SAMPLE_PW}}\n"
        "chats:\n  terminal: {enabled: true, color: false}\n"
        "mirrors:\n  - {name: all, site: sample, targets: [{chat: terminal, channel: main}]}\n"
    )


def test_check_online_and_backfill_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    loop = asyncio.new_event_loop()
    sample = SampleSite(interval=0)
    url = loop.run_until_complete(sample.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("SAMPLE_PW", BOT_APP_PASSWORD)
        path = tmp_path / "config.yaml"
        write_config(path, site_config(url, None, None, tmp_path / "bot.db", relay="off"), url)
        assert main(["check", "--config", str(path), "--online"]) == 0
        out = capsys.readouterr().out
        assert "valid" in out and "REST API at" in out and "logged in as user id 2" in out
        assert main(["backfill", "--config", str(path)]) == 0
        captured = capsys.readouterr()
        approved = len([c for c in sample.comments.values() if c.status == "approved"])
        assert f"{approved} comments found" in captured.out and "done:" in captured.out
        assert "mirroring" in captured.err  # the progress bar
        assert main(["backfill", "--config", str(path)]) == 0  # again: nothing new is sent
        assert "done: 0 delivered" in capsys.readouterr().out
        monkeypatch.setenv("SAMPLE_PW", "wrong wrong wrong wrong")
        assert main(["check", "--config", str(path), "--online"]) == 1
        assert "application password rejected" in capsys.readouterr().out
    finally:
        asyncio.run_coroutine_threadsafe(sample.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def test_help_teaches(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for word in ("demo", "check", "backfill", "run", "${VAR}", "code 2"):
        assert word in text
