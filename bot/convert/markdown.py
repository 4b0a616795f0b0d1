"""WordPress comment HTML → the markdown Discord and Matrix clients render."""

from __future__ import annotations

import re

from bs4 import Tag

from bot.convert._html import BaseConverter, attr, http_url, is_emoji_image

_BARE_URL = re.compile(r"(?i:https?)://[^\s<>]+")
_ESCAPED = re.compile(r"\\(.)")
_SCHEME = re.compile(r"^(?i:https?)://")

# Escapes that apply anywhere in a text (see `escape_markdown`).
_INLINE_ESCAPES = re.compile(
    r"""
      \\(?=[!-/:-@\[-`{-~]|\s*$)    # a backslash that would escape what follows (or the line end)
    | [*`]                          # emphasis, code
    | ~(?=~) | (?<=~)~              # ~~strike~~
    | \|(?=\|) | (?<=\|)\|          # ||spoiler||
    | <(?=[A-Za-z/!?@\#:]|\s*$)     # <tag>, <https://...>, <@mention>, <t:123>, <:emoji:1>
    | &(?=\#?\w+;)                  # &amp; entity
    """,
    re.VERBOSE,
)
_UNDERSCORES = re.compile(r"_+")
# Escapes that only matter at the start of a line: headings, quotes, list items, rules.
_LINE_START = re.compile(r"^\s*(?:#{1,6}(?=\s|$)|-#\s|>|[-+](?=\s|$)|\d{1,9}[.)](?=\s|$)|[-=]+\s*$)")
_MASKED_LINK_BRACKETS = re.compile(r"\](?=\()|\[(?=[^\[\]]*\]\()")  # [text](url)
_ALL_BRACKETS = re.compile(r"[\[\]]")  # inside a link's text


def _escape_underscores(match: re.Match[str]) -> str:
    """`snake_case` stays (no chat client makes it italic); `_em_`, `__x__` get escaped."""
    text, start, end = match.string, match.start(), match.end()
    run = match.group()
    inside_word = start > 0 and end < len(text) and text[start - 1].isalnum() and text[end].isalnum()
    return run if len(run) == 1 and inside_word else run.replace("_", r"\_")


def _backslash(match: re.Match[str]) -> str:
    return "\\" + match.group()


def _escape_line_start(match: re.Match[str]) -> str:
    """`# x` → `\\# x`, `> x` → `\\> x`, `- x` → `\\- x`, `1. x` → `1\\. x`."""
    marker = match.group()
    indent = len(marker) - len(marker.lstrip())
    at = len(marker) - 1 if marker[-1] in ".)" else indent
    return marker[:at] + "\\" + marker[at:]


def _escape_plain(text: str, brackets: re.Pattern[str]) -> str:
    text = _INLINE_ESCAPES.sub(_backslash, text)
    text = brackets.sub(_backslash, text)
    return _UNDERSCORES.sub(_escape_underscores, text)


def escape_markdown(text: str, *, link_text: bool = False) -> str:
    """Escape what chat markdown would format in plain text, so `*x*` shows as typed.

    Bare URLs are left alone (clients link them before formatting), and characters are
    escaped only where they could format something, so ordinary text stays readable.
    """
    brackets = _ALL_BRACKETS if link_text else _MASKED_LINK_BRACKETS
    out: list[str] = []
    pos = 0
    for url in _BARE_URL.finditer(text):
        out.append(_escape_plain(text[pos : url.start()], brackets))
        out.append(url.group())
        pos = url.end()
    out.append(_escape_plain(text[pos:], brackets))
    return _LINE_START.sub(_escape_line_start, "".join(out))


def _chomp(text: str) -> tuple[str, str, str]:
    """Move the spaces at the edges of an inline element's text outside its markup."""
    prefix = " " if text[:1] == " " else ""
    suffix = " " if text[-1:] == " " else ""
    return prefix, text.strip(), suffix


def _bare(url: str) -> str:
    return _SCHEME.sub("", url).rstrip("/").lower()


def _link(text: str, url: str) -> str:
    """`[text](url)`, or `<url>` when the text is the URL itself, maybe without `https://` (or empty).

    (Discord will not show a masked link whose text is a web address.)
    """
    if not text or _bare(_ESCAPED.sub(r"\1", text)) == _bare(url):
        return "<" + _encode(url, " <>") + ">"
    return f"[{text}]({_encode(url, ' <>()')})"


def _encode(url: str, unsafe: str) -> str:
    """Percent-encode the characters that would end the URL early in markdown."""
    return "".join(f"%{ord(ch):02X}" if ch in unsafe else ch for ch in url)


class _Converter(BaseConverter):
    def escape(self, text: str, parent_tags: set[str]) -> str:
        return escape_markdown(text, link_text="a" in parent_tags) if text else ""

    def convert_a(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        href = http_url(attr(el, "href"))
        if "_noformat" in parent_tags or href is None:
            return text  # javascript:, relative and other links keep only their text
        prefix, text, suffix = _chomp(text)
        return prefix + _link(text, href) + suffix

    def convert_img(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        alt = escape_markdown(" ".join(attr(el, "alt").split()), link_text=True)
        src = http_url(attr(el, "src"))
        if is_emoji_image(el) or "a" in parent_tags or src is None:
            return alt
        return _link(alt, src)


_CONVERTER = _Converter()


def html_to_markdown(html: str) -> str:
    """Convert WordPress comment HTML (`content.rendered`) to Discord/Matrix markdown.

    Paragraphs are separated by one blank line, <br /> becomes a newline, links become
    `[text](url)` (`<url>` when the text is the URL), images their link, emoji their
    character; scripts, styles and frames are dropped; plain text is escaped.
    """
    return _CONVERTER.render(html)
