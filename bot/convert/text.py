"""WordPress HTML → plain text, and one-line excerpts."""

from __future__ import annotations

from bs4 import Tag

from bot.convert._html import BaseConverter, attr
from bot.convert._unicode import is_safe_cut, safe_cut

ELLIPSIS = "…"


class _Converter(BaseConverter):
    """markdownify with the markup left out: only the visible text and its line structure remain.

    Lists keep their `- `/`1. ` markers and quotes their `> `, as plain-text mail does.
    """

    def _text_only(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return text

    convert_a = convert_b = convert_strong = convert_em = convert_i = _text_only
    convert_code = convert_kbd = convert_samp = convert_del = convert_s = _text_only
    convert_sub = convert_sup = convert_q = _text_only

    def convert_img(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return " ".join(attr(el, "alt").split())  # an emoji's character, an image's description

    def convert_pre(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        text = text.strip("\n")
        return f"\n\n{text}\n\n" if text else ""

    def convert_hN(self, n: int, el: Tag, text: str, parent_tags: set[str]) -> str:
        text = " ".join(text.split())
        return text if "_inline" in parent_tags else f"\n\n{text}\n\n"

    def convert_hr(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return "\n\n"


_CONVERTER = _Converter()


def html_to_text(html: str) -> str:
    """The visible text of some HTML: entities decoded, paragraphs separated by a blank line,
    <br /> as a newline, scripts and styles dropped. Links keep their text, images their alt text.
    """
    return _CONVERTER.render(html)


def excerpt(text: str, limit: int = 140) -> str:
    """`text` on one line (whitespace collapsed), at most `limit` characters.

    A longer text is cut at a word boundary and ends with "…" (counted in the limit); a word
    longer than half the limit is cut inside instead, between whole characters.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    budget = limit - len(ELLIPSIS)
    space = line.rfind(" ", 0, budget + 1)
    if space > budget // 2:
        head = line[:space]
    else:
        cut = safe_cut(line, 0, budget)
        head = line[:cut] if is_safe_cut(line, cut) else ""  # never half a character
    return head.rstrip(" ,;:") + ELLIPSIS
