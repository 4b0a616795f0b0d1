"""`thread-mirror`: the command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bot import __version__
from bot.chats import build_chats
from bot.chats.base import ChatError
from bot.chats.terminal import TerminalChat
from bot.config import Config, ConfigError, FeedSite, HtmlSite, WordPressSite, load_config
from bot.core.app import App
from bot.core.mirrors import MirrorSpec
from bot.logs import setup_logging
from bot.sources import build_source
from bot.sources.wordpress import WordPressSource
from bot.store import Store

log = logging.getLogger("thread-mirror")

DESCRIPTION = """\
Thread Mirror copies the comment threads of websites (WordPress) into chat threads
(Discord, Matrix, or this terminal) and posts chat replies back to the site as comments.

Start here:
  thread-mirror demo                       a sample site mirrored into this terminal (no accounts)
  thread-mirror check --config config.yaml validate a config and explain what it will do
  thread-mirror check --config config.yaml --online   ... and test the sites' API and password
  thread-mirror backfill --config config.yaml         mirror existing comments, with progress
  thread-mirror run --config config.yaml   the bot itself: poll, mirror, relay, answer commands

Secrets: write ${VAR} in config.yaml and set VAR in the environment or in a KEY=VALUE
secrets file (--secrets FILE, or secrets_file: in the config). A bad config exits with
code 2 and one line naming the file, the key and the fix."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thread-mirror", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"thread-mirror {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def with_config(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--config", "-c", default="config.yaml", help="the YAML config (default: config.yaml)")
        sub.add_argument("--secrets", help="a KEY=VALUE file with the secrets named as ${KEY} in the config")
        sub.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="overrides log_level")

    run = commands.add_parser(
        "run",
        help="run the bot",
        description="Poll the sites, mirror new comments into "
        "chat, relay chat replies back, answer commands. Stops cleanly on Ctrl-C/SIGTERM.",
    )
    with_config(run)
    check = commands.add_parser(
        "check",
        help="validate a config and explain it",
        description="Validate the config and say what it will mirror where. "
        "With --online, also reach each site's API and try its password.",
    )
    with_config(check)
    check.add_argument("--online", action="store_true", help="contact each site (API found? password works?)")
    backfill = commands.add_parser(
        "backfill",
        help="mirror existing comments now, with a progress bar",
        description="Mirror the comments that already exist on the mirrored pages "
        "(each mirror's backfill_days, default all), show progress, and exit when "
        "every delivery is done. Safe to repeat: nothing is posted twice.",
    )
    with_config(backfill)
    backfill.add_argument("--mirror", action="append", help="only this mirror (repeatable)")
    demo = commands.add_parser(
        "demo",
        help="the sample site mirrored into this terminal (what `make run` does)",
        description="Serves a made-up discussion on 127.0.0.1 through the WordPress "
        "REST API and mirrors it into this terminal; new comments keep arriving. "
        "Type `help` to see how to reply; replies land on the sample site.",
    )
    demo.add_argument("--port", type=int, default=0, help="sample site port (default: a free one)")
    demo.add_argument("--interval", type=float, default=4.0, help="seconds between new sample comments (0: none)")
    demo.add_argument("--poll-interval", type=float, default=1.0, help="seconds between polls of the sample site")
    demo.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default="warning")
    serve = commands.add_parser("sample-site", help="only serve the sample site (to point a config at it)")
    serve.add_argument("--port", type=int, default=8089)
    serve.add_argument("--interval", type=float, default=4.0)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return 0
    try:
        if args.command == "demo":
            return asyncio.run(demo(args))
        if args.command == "sample-site":
            return asyncio.run(serve_sample_site(args.port, args.interval))
        config = load_config(args.config, args.secrets)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    setup_logging(args.log_level or config.log_level, config.secret_values())
    if args.command == "check":
        return asyncio.run(check(config, args.config, args.online))
    if args.command == "backfill":
        return asyncio.run(backfill(config, args.mirror))
    return asyncio.run(run(config))


async def _serve_until_stopped(app: App, quit_event: asyncio.Event | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await app.start()
    # What start-up made (modules, config, mirrors) lives as long as the process: out of the
    # collector's way, a full collection takes a fraction of the ~30 ms it otherwise stalls the loop.
    gc.freeze()
    waiters = [asyncio.create_task(stop.wait())]
    if quit_event is not None:
        waiters.append(asyncio.create_task(quit_event.wait()))
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
    log.info("stopping")
    await app.stop()


async def run(config: Config) -> int:
    store = await Store.open(config.store.path)
    chats = build_chats(config, store, interactive=sys.stdin.isatty())
    if not chats:
        log.warning("no chat is configured: comments are read and stored but mirrored nowhere")
    app = App(config, store, chats)
    terminal = chats.get("terminal")
    try:
        await _serve_until_stopped(app, terminal.quit_requested if isinstance(terminal, TerminalChat) else None)
    except ChatError as exc:  # e.g. a token the platform refuses: nothing to retry, an admin must act
        print(f"chat error: {exc}", file=sys.stderr)
        await app.stop()
        return 2
    finally:
        await store.close()
    return 0


async def check(config: Config, path: str, online: bool) -> int:
    print(f"{path}: valid.")
    print(f"Store: {config.store.path}")
    for name, site in config.sites.items():
        access = f"reads, and posts replies as {site.username}" if site.can_post else "read-only (no app_password)"
        if site.kind != "wordpress":
            access = f"read-only, from {site.describe_kind}"
        print(
            f"Site {name}: {site.url} — {access}; polls every {site.poll_interval:g}s, "
            f"notices edits/deletions for {site.edit_window_hours:g}h"
        )
    enabled = [name for name, chat in config.chats if chat is not None and getattr(chat, "enabled", True)]
    print(f"Chats: {', '.join(enabled) or 'none (comments will be stored but mirrored nowhere)'}")
    print(web_summary(config))

    for mirror in config.mirrors:
        print(f"Mirror {MirrorSpec.from_config(mirror).describe()}")
    if not config.mirrors:
        print("No mirrors in the file (admins can add them with `mirror add` in chat).")
    if not online:
        return 0

    failed = False
    for name, site in config.sites.items():
        source = build_source(name, site, config.network.allow_private)
        problem = False
        try:
            await source.start()
            if isinstance(source, WordPressSource):
                await source.list_comments(datetime.now(UTC))  # the comments route answers (one request)
                login = f"; logged in as user id {source.bot_user_id}" if site.can_post else ""
                print(f"Site {name}: REST API at {source.api_root}{login}")
            else:
                comments = await source.list_comments(None)
                pages = len({c.post_id for c in comments})
                print(
                    f"Site {name}: read {len(comments)} comment(s) on {pages} page(s) "
                    f"with {source.requests_made} request(s)"
                )
        except Exception as exc:
            failed = problem = True
            print(f"Site {name}: PROBLEM: {exc}")
        finally:
            await source.close()
        if problem or site.kind != "wordpress":
            await _print_detection(name, site)
    return 1 if failed else 0


def web_summary(config: Config) -> str:
    """One line on the web server and which sites take push notifications."""
    pushed = [n for n, site in config.sites.items() if isinstance(site, WordPressSite) and site.push_secret]
    if config.http is None:
        note = f" (push_secret of {', '.join(pushed)} is unused: add an http: section)" if pushed else ""
        return f"Web server: off (no http: section){note}"
    hooks = ", ".join(f"/hooks/wordpress/{n}" for n in pushed) or "no push (no site has push_secret)"
    return f"Web server: http://{config.http.host}:{config.http.port} — /healthz, /metrics, {hooks}"


async def _print_detection(name: str, site: WordPressSite) -> None:
    """What the site's first page offers (REST API? feed? comment markup?), and the config for it."""
    from textwrap import indent

    from bot.sources.detect import detect

    pages = site.pages if isinstance(site, HtmlSite | FeedSite) else []
    url = pages[0] if pages else site.url
    found = await detect(url)
    print(f"  {url} offers: {', '.join(found.kinds) or 'nothing the bot can read'}")
    for line in found.summary():
        print(f"    {line}")
    configured: str = "feed+pages" if isinstance(site, FeedSite) and pages else site.kind
    if found.best_kind != configured:
        print(f"  suggested config ({found.best_kind or 'a custom profile'}):")
        print(indent(found.suggestion(name), "    "), end="")


async def backfill(config: Config, only: list[str] | None) -> int:
    from tqdm import tqdm

    store = await Store.open(config.store.path)
    app = App(config, store, build_chats(config, store, interactive=False))
    try:
        await app.start(poll=False)
        wanted = [m for m in await store.mirrors() if not only or m.name in only]
        unknown = set(only or []) - {m.name for m in wanted}
        if unknown:
            print(f"No mirror named {', '.join(sorted(unknown))}.", file=sys.stderr)
            return 2
        for mirror in wanted:
            await store.set_mirror_flag(mirror.name, "backfilled", False)
        for site in sorted({m.site for m in wanted}):
            plan = await app.pollers[site].poll_once()
            print(f"{site}: {plan.new} comments found, {len(plan.jobs)} deliveries planned")
        total = (await store.outbox_stats())["pending"]
        with tqdm(total=total, unit="msg", desc="mirroring") as bar:
            while not await app.outbox.wait_idle(within=0.5):
                bar.n = total - (await store.outbox_stats())["pending"]
                bar.refresh()
            bar.n = total - (await store.outbox_stats())["pending"]
            bar.refresh()
        stats = await store.outbox_stats()
        print(
            f"done: {app.outbox.delivered} delivered, {stats['pending']} waiting to retry, "
            f"{stats['failed']} failed (see `mirror status`)"
        )
        return 0 if stats["failed"] == 0 else 1
    finally:
        await app.stop()
        await store.close()


async def serve_sample_site(port: int, interval: float) -> int:
    from bot.sample_site.server import SampleSite

    site = SampleSite(port=port, interval=interval)
    url = await site.start()
    print(f"Sample site at {url} (user mirrorbot, application password 'sample sample sample sample'). Ctrl-C stops.")
    try:
        await asyncio.Event().wait()
    finally:
        await site.stop()
    return 0


async def demo(args: argparse.Namespace) -> int:
    from bot.sample_site.server import SampleSite

    setup_logging(args.log_level)
    site = SampleSite(port=args.port, interval=args.interval)
    url = await site.start()
    with tempfile.TemporaryDirectory(prefix="thread-mirror-demo-") as folder:
        config = demo_config(url, str(Path(folder) / "demo.db"), args.poll_interval)
        store = await Store.open(config.store.path)
        chats = build_chats(config, store, interactive=True)
        terminal = chats["terminal"]
        assert isinstance(terminal, TerminalChat)
        terminal.say(f"Thread Mirror demo: mirroring the sample site {url} into this terminal.")
        terminal.say(
            "New comments arrive every few seconds. Try: reply 3 I agree!   (then open the site's "
            "REST API to see it)   — or `help`, `quit`."
        )
        try:
            await _serve_until_stopped(App(config, store, chats), terminal.quit_requested)
        finally:
            await store.close()
            await site.stop()
    return 0


def demo_config(site_url: str, store_path: str, poll_interval: float) -> Config:
    from bot.sample_site.server import BOT_APP_PASSWORD, BOT_USERNAME

    return Config.model_validate(
        {
            "store": {"path": store_path},
            "sites": {
                "sample": {
                    "url": site_url,
                    "username": BOT_USERNAME,
                    "app_password": BOT_APP_PASSWORD,
                    "poll_interval": poll_interval,
                    "recheck_interval": 30,
                }
            },
            "chats": {"terminal": {"enabled": True}},
            "mirrors": [{"name": "sample", "site": "sample", "targets": [{"chat": "terminal", "channel": "demo"}]}],
        }
    )


if __name__ == "__main__":
    sys.exit(main())
