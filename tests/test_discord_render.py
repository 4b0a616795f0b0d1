"""What the Discord adapter posts (pure functions), its config, and docs/discord.md's invite link."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import discord
import pytest

from bot.chats import build_chats
from bot.chats.discord import DiscordChat
from bot.chats.discord.adapter import ChatError, http_error
from bot.chats.discord.render import (
    comment_parts,
    nonce,
    snowflake_at,
    starter_text,
    thread_name,
    webhook_username,
)
from bot.config import Config
from bot.models import Comment, MirroredComment, Page, ParentContext, ThreadHeader
from tests.fake_discord.limits import FormErrors, check_webhook_name

PAGE = Page("site", 7, "https://blog.example.org/ferry/", "Harbour ferry timetable", "The ferry runs every 20 minutes.")


def comment(html: str = "<p>Hello</p>", author: str = "Maren", **extra: object) -> Comment:
    return Comment(
        site="site",
        id=12,
        post_id=7,
        parent_id=0,
        author_name=author,
        created_at=datetime(2026, 3, 1, 14, 2, tzinfo=UTC),
        html=html,
        link="https://blog.example.org/ferry/#comment-12",
        **extra,  # type: ignore[arg-type]
    )


def test_thread_names_fit_100_characters() -> None:
    assert thread_name(ThreadHeader("site", PAGE)) == "Harbour ferry timetable"
    long = Page("site", 7, "https://x.org/", "word " * 40)
    name = thread_name(ThreadHeader("site", long))
    assert len(name) == 100 and name.endswith("…")
    assert thread_name(ThreadHeader("site", Page("site", 7, "https://x.org/", "  \n "))) == "Comments"
    root = comment(author="Ida")
    assert thread_name(ThreadHeader("site", PAGE, root)) == "Ida on Harbour ferry timetable"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Maren", "Maren"),
        ("  Maren \n Berg ", "Maren Berg"),
        ("Discord Fan", "Disc\u043erd Fan"),
        ("CLYDE and clyde", "CLYD\u0415 and clyd\u0435"),
        ("everyone", "everyone (site)"),
        ("", "Anonymous"),
        ("x" * 100, "x" * 79 + "…"),
    ],
)
def test_webhook_usernames_follow_discords_rules(name: str, expected: str) -> None:
    assert webhook_username(name) == expected
    form = FormErrors()
    check_webhook_name(form, "username", webhook_username(name))
    assert not form.errors  # the fake, which enforces Discord's rules, accepts it


def test_nonces_are_short_stable_and_distinct() -> None:
    assert len(nonce("post_comment:discord:1:site:2:g0", 0)) == 25
    assert nonce("k", 0) == nonce("k", 0) != nonce("k", 1) != nonce("j", 1)


def test_snowflake_at_orders_like_discord_ids() -> None:
    assert snowflake_at(1420070400.0) == 0
    assert discord.utils.snowflake_time(snowflake_at(1_700_000_000.5)).timestamp() == pytest.approx(
        1_700_000_000.5, abs=0.001
    )


def test_starter_message_has_title_link_and_excerpt_and_pings_nobody() -> None:
    text = starter_text(ThreadHeader("site", Page("site", 7, PAGE.url, "*Bold* @everyone", "See <@123> now")))
    assert text.startswith(r"**[\*Bold\* @" + "\u200beveryone](https://blog.example.org/ferry/)**")
    assert "> See <\u200b@123> now" in text or "> See \\<\u200b@123> now" in text


def test_comment_parts_quote_the_parent_and_link_to_its_message() -> None:
    parent = ParentContext("Oskar", "Not for the *night* shift.", "https://blog.example.org/ferry/#comment-3", "555")
    [text] = comment_parts(MirroredComment(comment(), "Harbour", parent), 111, "222")
    first, body, footer = text.split("\n")
    assert first == r"> ↪ **Oskar**: Not for the \*night\* shift. ([jump](https://discord.com/channels/111/222/555))"
    assert body == "Hello"
    assert (
        footer
        == f"-# <t:{int(datetime(2026, 3, 1, 14, 2, tzinfo=UTC).timestamp())}:f> · [on the site](<https://blog.example.org/ferry/#comment-12>)"
    )
    unmirrored = ParentContext("Oskar", "Hi", "https://blog.example.org/ferry/#comment-3", None)
    [text] = comment_parts(MirroredComment(comment(), "Harbour", unmirrored), 111, "222")
    assert "([on the site](<https://blog.example.org/ferry/#comment-3>))" in text.split("\n")[0]


def test_long_comments_split_at_2000_with_header_first_and_footer_last() -> None:
    html = "".join(f"<p>Paragraph {i}. " + "Some words here. " * 20 + "</p>" for i in range(30))
    parent = ParentContext("Oskar", "Hi", "https://x.org/#c", "5")
    parts = comment_parts(MirroredComment(comment(html), "Harbour", parent), 1, "2", name_prefix=True)
    assert len(parts) > 4 and all(len(p) <= 2000 for p in parts)
    assert parts[0].startswith("**Maren**\n> ↪ **Oskar**")
    assert parts[-1].endswith("#comment-12>)") and not any("#comment-12" in p for p in parts[:-1])
    joined = "\n\n".join(p for p in parts)
    assert all(f"Paragraph {i}." in joined for i in range(30))


def test_empty_comment_still_has_a_message() -> None:
    assert comment_parts(MirroredComment(comment("<p></p>"), "Harbour"), 1, "2") == [
        f"-# <t:{int(datetime(2026, 3, 1, 14, 2, tzinfo=UTC).timestamp())}:f> · [on the site](<https://blog.example.org/ferry/#comment-12>)"
    ]


def test_mentions_in_comments_are_defused() -> None:
    [text] = comment_parts(MirroredComment(comment("<p>@everyone look, &lt;@123&gt;</p>"), "Harbour"), 1, "2")
    assert "@everyone" not in text and "<@123>" not in text


class FakeResponse:
    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.reason = "x"
        self.headers = headers or {}


@pytest.mark.parametrize(
    ("status", "code", "transient"),
    [(429, 0, True), (500, 0, True), (503, 0, True), (403, 50013, True), (404, 10003, False), (400, 50035, False)],
)
def test_http_errors_become_chat_errors(status: int, code: int, transient: bool) -> None:
    exc = discord.HTTPException(FakeResponse(status, {"Retry-After": "3"}), {"code": code, "message": "m"})  # type: ignore[arg-type]
    error = http_error(exc, "post")
    assert isinstance(error, ChatError) and error.transient is transient
    if status == 429:
        assert error.retry_after == 3.0
    if status == 403:
        assert "Manage Webhooks" in str(error) and error.retry_after == 300.0


def config(tmp_path: Path, **discord_section: object) -> Config:
    target = (
        [{"chat": "discord", "channel": "5"}]
        if discord_section.get("enabled", True)
        else [{"chat": "terminal", "channel": "5"}]
    )
    return Config.model_validate(
        {
            "store": {"path": str(tmp_path / "db")},
            "sites": {"site": {"url": "https://blog.example.org"}},
            "chats": {"discord": {"token": "t", "guilds": [1], **discord_section}, "terminal": {"enabled": True}},
            "mirrors": [{"name": "m", "site": "site", "relay": "off", "targets": target}],
        }
    )


async def test_build_chats_makes_the_adapter_with_the_store(tmp_path: Path) -> None:
    from bot.store import Store

    store = await Store.open(tmp_path / "db")
    try:
        chats = build_chats(config(tmp_path, api_base="http://127.0.0.1:9/api/v10/"), store, interactive=False)
        adapter = chats["discord"]
        assert isinstance(adapter, DiscordChat)
        assert adapter.store is store and adapter.label == "Discord" and adapter.max_message_length == 2000
        assert adapter.settings.api_base == "http://127.0.0.1:9/api/v10"
        assert "discord" not in build_chats(config(tmp_path, enabled=False), store, interactive=False)
    finally:
        await store.close()


def test_config_refuses_a_bad_api_base(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a URL"):
        config(tmp_path, api_base="127.0.0.1:9")


def test_the_invite_link_in_the_docs_has_exactly_the_needed_permissions() -> None:
    text = (Path(__file__).parent.parent / "docs" / "discord.md").read_text()
    needed = discord.Permissions(
        view_channel=True,
        send_messages=True,
        create_public_threads=True,
        send_messages_in_threads=True,
        manage_threads=True,
        manage_webhooks=True,
        read_message_history=True,
    )
    links = re.findall(r"https://discord\.com/oauth2/authorize\?\S+", text)
    assert links
    for link in links:
        assert f"permissions={needed.value}" in link and "scope=bot+applications.commands" in link


def test_webhook_tokens_are_hidden_in_the_log(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from bot.chats.discord.adapter import redact
    from bot.logs import setup_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("info", ["config-secret"])
        redact("webhook-token-123")
        logging.getLogger("discord.webhook.async_").info("POST /webhooks/1/webhook-token-123 with config-secret")
        assert "POST /webhooks/1/*** with ***" in capsys.readouterr().err
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
