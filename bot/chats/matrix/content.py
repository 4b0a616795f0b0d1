"""Matrix event contents, both ways, as pure functions.

Outgoing: a thread root per page (or top-level comment), each comment as threaded reply parts
(`m.thread` relation with a reply fallback or a real `m.in_reply_to`), edits (`m.replace` with
`m.new_content`), notices answering commands. Every content carries `m.mentions: {}` so nothing
mirrored ever pings anybody (`@room` included).

Incoming: `parse_event` reads a raw event (`event.source`, since nio does not parse relations)
into an `Incoming`: a message (with its thread and the message it really answers), an edit (of
which original event) or a redaction.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from bot.convert import excerpt, html_to_markdown, html_to_text, neutralize_mentions
from bot.convert.matrix_html import sanitize_html, split_html
from bot.models import MirroredComment, ThreadHeader

HTML_FORMAT = "org.matrix.custom.html"
# JSON size of one part's body + formatted_body. Synapse refuses events over 64 KiB, and an
# edit carries its part twice (the fallback and m.new_content), so a part stays under a third.
MAX_PART_BYTES = 20_000
HEADER_ALLOWANCE = 400  # bytes for a part's author line (and reply quote), in both bodies
ROOT_EXCERPT = 200
PARENT_EXCERPT = 120
MAX_NAME = 100  # characters of an author's name: a header must stay small next to MAX_PART_BYTES
MAX_TITLE = 300  # a thread root's title

Content = dict[str, Any]


def txn_id(key: str, *parts: object) -> str:
    """A transaction id derived from an outbox key (and a part), the same on every retry."""
    raw = "\x1f".join([key, *(str(p) for p in parts)])
    return "tm" + hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def json_size(content: Content) -> int:
    return len(json.dumps(content, ensure_ascii=False).encode("utf-8", "surrogatepass"))


def _e(text: str) -> str:
    return html.escape(neutralize_mentions(text), quote=True)


def _href(url: str) -> str:
    return html.escape(url, quote=True)


# -- outgoing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One event's worth of a comment: a plain body and its HTML."""

    body: str
    formatted: str


def thread_root_content(header: ThreadHeader) -> Content:
    """The event that opens a thread: the page's title (linked), its address and a short excerpt."""
    page = header.page
    title = excerpt(header.title, MAX_TITLE) or page.url
    summary = page.excerpt
    if header.root_comment is not None:
        summary = html_to_text(header.root_comment.html)
    summary = excerpt(summary, ROOT_EXCERPT) if summary else ""
    body = f"💬 {neutralize_mentions(title)}\n{page.url}"
    formatted = f'<p>💬 <b><a href="{_href(page.url)}">{_e(title)}</a></b></p>'
    if summary:
        body += f"\n{neutralize_mentions(summary)}"
        formatted += f"<blockquote>{_e(summary)}</blockquote>"
    return {"msgtype": "m.text", "body": body, "format": HTML_FORMAT, "formatted_body": formatted, "m.mentions": {}}


def _when(message: MirroredComment) -> str:
    return message.comment.created_at.strftime("%Y-%m-%d %H:%M UTC")


def _header(message: MirroredComment, index: int, count: int) -> Part:
    """Who wrote it, when (linked to the comment), and whom it answers (on the first part)."""
    comment = message.comment
    name = excerpt(comment.author_name, MAX_NAME) or "Someone"
    suffix = f" ({index + 1}/{count})" if count > 1 else ""
    when = _when(message)
    line = f"{neutralize_mentions(name)}{suffix} · {when}" + (f" · {comment.link}" if comment.link else "")
    line_html = f"<b>{_e(name)}</b>{suffix} · " + (
        f'<a href="{_href(comment.link)}">{when}</a>' if comment.link else when
    )
    quote = quote_html = ""
    parent = message.parent if index == 0 else None
    parent_name = excerpt(parent.author_name, MAX_NAME) if parent is not None else ""
    if parent is not None and parent.message_ref:
        # The event answers the parent's message: clients show that message above it.
        line += f" · ↪ {neutralize_mentions(parent_name)}"
        line_html += f" · ↪ {_e(parent_name)}"
    elif parent is not None:
        said = excerpt(parent.excerpt, PARENT_EXCERPT)
        who = _e(parent_name)
        who_html = f'<a href="{_href(parent.link)}">{who}</a>' if parent.link else who
        quote = f"\n↪ {neutralize_mentions(parent_name)}: “{neutralize_mentions(said)}”"
        quote_html = f"<blockquote>↪ {who_html}: {_e(said)}</blockquote>"
    return Part(line + quote, f"<p>{line_html}</p>{quote_html}")


def _assemble(header: Part, chunk_html: str) -> Part:
    text = neutralize_mentions(html_to_markdown(chunk_html)) if chunk_html else ""
    body = f"{header.body}\n\n{text}" if text else header.body
    return Part(body, header.formatted + chunk_html)


def render_comment(message: MirroredComment, max_bytes: int = MAX_PART_BYTES) -> list[Part]:
    """A comment as one or more parts, each with a header; no part's JSON is over `max_bytes`
    (unless `max_bytes` is too small for a header and a few words)."""
    content = sanitize_html(message.comment.html)
    html_budget = max(64, max_bytes // 2 - HEADER_ALLOWANCE)  # the body's markdown is about as long
    while True:
        chunks = (split_html(content, html_budget) if content else []) or [""]
        parts = [_assemble(_header(message, i, len(chunks)), chunk) for i, chunk in enumerate(chunks)]
        if all(json_size({"b": p.body, "f": p.formatted}) <= max_bytes for p in parts) or html_budget <= 64:
            return parts
        html_budget = max(64, html_budget * 3 // 4)  # escaping or markdown made one too big


def thread_relation(root: str, reply_to: str, falling_back: bool) -> Content:
    """`m.thread` to the root; `m.in_reply_to` is a real reply, or (falling back) the thread's latest event."""
    return {
        "rel_type": "m.thread",
        "event_id": root,
        "is_falling_back": falling_back,
        "m.in_reply_to": {"event_id": reply_to},
    }


def part_content(part: Part, relation: Content | None = None, msgtype: str = "m.text") -> Content:
    content: Content = {
        "msgtype": msgtype,
        "body": part.body,
        "format": HTML_FORMAT,
        "formatted_body": part.formatted,
        "m.mentions": {},
    }
    if relation is not None:
        content["m.relates_to"] = relation
    return content


def edit_content(part: Part, original: str) -> Content:
    """An `m.replace` of `original`: the new text in `m.new_content`, a "* " fallback for old clients."""
    new = part_content(part)
    return {
        "msgtype": "m.text",
        "body": "* " + part.body,
        "format": HTML_FORMAT,
        "formatted_body": "* " + part.formatted,
        "m.new_content": new,
        "m.relates_to": {"rel_type": "m.replace", "event_id": original},
        "m.mentions": {},
    }


def notice_content(text: str, relation: Content | None = None) -> Content:
    """A bot's answer: plain text, `code` spans kept, lines kept."""
    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"`([^`\n]+)`", r"<code>\1</code>", escaped)
    return part_content(Part(text, escaped.replace("\n", "<br/>")), relation, msgtype="m.notice")


# -- incoming ------------------------------------------------------------------------------

_FALLBACK_LINE = re.compile(r"^>.*$")


@dataclass(frozen=True)
class Incoming:
    kind: Literal["message", "edit", "redaction"]
    event_id: str
    sender: str
    timestamp_ms: int
    text: str = ""
    thread_root: str | None = None  # for messages in a thread
    reply_to: str | None = None  # the event a message really answers (not a thread's fallback)
    target: str | None = None  # what an edit replaces or a redaction removes
    emote: bool = False


def strip_reply_fallback(body: str) -> str:
    """Drop the `> <@user> quoted text` lines older clients put before a reply's own text."""
    lines = body.split("\n")
    if not lines or not lines[0].startswith("> <"):
        return body
    index = 0
    while index < len(lines) and _FALLBACK_LINE.match(lines[index]):
        index += 1
    if index < len(lines) and not lines[index].strip():
        index += 1
    return "\n".join(lines[index:])


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_event(source: dict[str, Any]) -> Incoming | None:
    """What a raw room event means for us, or None when it is nothing we act on."""
    kind = source.get("type")
    event_id, sender = _str(source.get("event_id")), _str(source.get("sender"))
    content = source.get("content")
    if event_id is None or sender is None or not isinstance(content, dict):
        return None
    timestamp = source.get("origin_server_ts")
    timestamp = timestamp if isinstance(timestamp, int) else 0
    if kind == "m.room.redaction":
        target = _str(content.get("redacts")) or _str(source.get("redacts"))  # room v11+ / older
        return Incoming("redaction", event_id, sender, timestamp, target=target) if target else None
    if kind != "m.room.message":
        return None
    relates = content.get("m.relates_to")
    relates = relates if isinstance(relates, dict) else {}
    if relates.get("rel_type") == "m.replace":
        new = content.get("m.new_content")
        original = _str(relates.get("event_id"))
        if not isinstance(new, dict) or original is None or new.get("msgtype") not in ("m.text", "m.emote"):
            return None
        text = new.get("body")
        if not isinstance(text, str):
            return None
        return Incoming("edit", event_id, sender, timestamp, text=text, target=original)
    msgtype = content.get("msgtype")
    body = content.get("body")
    if msgtype not in ("m.text", "m.emote") or not isinstance(body, str):
        return None  # notices (other bots), media, locations, polls...
    reply = relates.get("m.in_reply_to")
    reply_to = _str(reply.get("event_id")) if isinstance(reply, dict) else None
    thread_root = _str(relates.get("event_id")) if relates.get("rel_type") == "m.thread" else None
    if thread_root is not None and relates.get("is_falling_back") is True:
        reply_to = None  # only the fallback for clients without threads
    if reply_to is not None:
        body = strip_reply_fallback(body)
    return Incoming(
        "message",
        event_id,
        sender,
        timestamp,
        text=body,
        thread_root=thread_root,
        reply_to=reply_to,
        emote=msgtype == "m.emote",
    )
