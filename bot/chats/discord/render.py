"""What the Discord adapter posts, as pure functions: thread names, starter messages, comment
parts, webhook usernames, nonces. Everything here fits Discord's documented limits."""

from __future__ import annotations

import hashlib
import re

from bot.convert import excerpt, html_to_markdown, neutralize_mentions, split_message, valid_unicode
from bot.convert.markdown import escape_markdown
from bot.models import MirroredComment, ParentContext, ThreadHeader

MAX_MESSAGE = 2000
MAX_THREAD_NAME = 100
MAX_WEBHOOK_NAME = 80
MAX_NONCE = 25
MAX_TITLE = 300  # of a page in a starter message: it must leave room for the link
DISCORD_EPOCH_MS = 1420070400000
ELLIPSIS = "…"

# Webhook names may not contain these (case-insensitive); one letter becomes its Cyrillic twin.
_FORBIDDEN_IN_NAMES = re.compile(r"(?i)(discord|clyde)")
_LOOKALIKE = {"o": "\u043e", "O": "\u041e", "e": "\u0435", "E": "\u0415"}
_RESERVED_NAMES = {"everyone", "here", "system message"}


def fit(text: str, limit: int) -> str:
    """`text` on one line (lone surrogates replaced), cut to `limit` characters with an ellipsis when longer."""
    line = " ".join(valid_unicode(text).split())
    if len(line) <= limit:
        return line
    return line[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


def thread_name(header: ThreadHeader) -> str:
    """A thread or forum post name: 1-100 characters."""
    return fit(header.title, MAX_THREAD_NAME) or "Comments"


def webhook_username(name: str) -> str:
    """The site author's name as Discord accepts it for a webhook message: 1-80 characters,
    without "discord" or "clyde" (a look-alike letter is swapped in), never a reserved name."""

    def disarm(match: re.Match[str]) -> str:
        word = match.group()
        vowel = next(i for i, ch in enumerate(word) if ch in "oOeE")
        return word[:vowel] + _LOOKALIKE[word[vowel]] + word[vowel + 1 :]

    cleaned = _FORBIDDEN_IN_NAMES.sub(disarm, " ".join(name.split()))
    if cleaned.lower() in _RESERVED_NAMES:
        cleaned += " (site)"
    return fit(cleaned, MAX_WEBHOOK_NAME) or "Anonymous"


def nonce(key: str, part: int) -> str:
    """A message nonce (at most 25 characters) derived from the outbox key and the part."""
    return hashlib.sha256(f"{key}#{part}".encode()).hexdigest()[:MAX_NONCE]


def snowflake_at(unix_time: float) -> int:
    """The smallest Discord id made at this time (for `after=` in message history)."""
    return max(0, int(unix_time * 1000) - DISCORD_EPOCH_MS) << 22


def message_link(guild_id: int | None, channel_id: str | int, message_id: str | int) -> str:
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"


def _plain(text: str) -> str:
    return neutralize_mentions(escape_markdown(" ".join(text.split())))


def _name(name: str) -> str:
    """An author's name in a message: as long as a webhook's at most, so a header always leaves room."""
    return _plain(fit(name, MAX_WEBHOOK_NAME))


def starter_text(header: ThreadHeader) -> str:
    """The message a thread starts from (or a forum post's first message): title, link, excerpt."""
    page = header.page
    title = _plain(fit(page.title, MAX_TITLE)) or "Comments"
    url = page.url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
    lines = [f"**[{title}]({url})**" if url else f"**{title}**"]
    if header.root_comment is not None:
        lines.append(f"{_name(header.root_comment.author_name)}'s comment and the replies to it")
    elif page.excerpt:
        lines.append("> " + _plain(excerpt(page.excerpt, 300)))
    lines.append("-# The page's comments are mirrored into this thread.")
    return fit_message("\n".join(lines))


def fit_message(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + ELLIPSIS


def reply_context(parent: ParentContext, guild_id: int | None, thread_id: str) -> str:
    """One quoted line naming the answered comment, linking to its message (or its page)."""
    if parent.message_ref:
        where = f"[jump]({message_link(guild_id, thread_id, parent.message_ref)})"
    elif parent.link:
        where = f"[on the site](<{parent.link}>)"
    else:
        where = ""
    said = _plain(parent.excerpt)
    line = f"> ↪ **{_name(parent.author_name)}**" + (f": {said}" if said else "")
    return line + (f" ({where})" if where else "")


def comment_parts(
    message: MirroredComment, guild_id: int | None, thread_id: str, *, name_prefix: bool = False
) -> list[str]:
    """A site comment as Discord message parts of at most 2000 characters each.

    With `name_prefix` (when the bot posts as itself, without a webhook) the author's name
    leads in bold. Reply context comes first, the comment's time and link last.
    """
    comment = message.comment
    head: list[str] = []
    if name_prefix:
        head.append(f"**{_name(comment.author_name) or 'Anonymous'}**")
    if message.parent is not None:
        head.append(reply_context(message.parent, guild_id, thread_id))
    footer = f"-# <t:{int(comment.created_at.timestamp())}:f>"
    if comment.link:
        footer += f" · [on the site](<{comment.link}>)"
    header = "\n".join(head)
    body = neutralize_mentions(html_to_markdown(comment.html)).strip()
    # The body is split with room for the header (first part) and the footer (last part).
    budget = MAX_MESSAGE - len(header) - len(footer) - 2
    parts = split_message(body, budget) if body else []
    if not parts:
        return [fit_message(f"{header}\n{footer}" if header else footer)]
    if header:
        parts[0] = f"{header}\n{parts[0]}"
    parts[-1] = f"{parts[-1]}\n{footer}"
    return parts
