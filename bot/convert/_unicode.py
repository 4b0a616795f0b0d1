"""Small Unicode helpers shared by the converters: where a string may be cut without breaking a character."""

from __future__ import annotations

import unicodedata

_ZWJ = "\u200d"
_EXTENDERS = frozenset("\u200d\u20e3\ufe0e\ufe0f")  # ZWJ, keycap, text/emoji variation selectors


def _is_regional_indicator(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def is_extender(ch: str) -> bool:
    """True for a character that belongs to the character before it (combining mark, emoji modifier...)."""
    code = ord(ch)
    return (
        ch in _EXTENDERS
        or unicodedata.category(ch) in ("Mn", "Mc", "Me")
        or 0x1F3FB <= code <= 0x1F3FF  # skin-tone modifiers
        or 0xE0020 <= code <= 0xE007F  # emoji tag sequences (subdivision flags)
    )


def is_safe_cut(text: str, i: int) -> bool:
    """Whether cutting `text` between `text[i - 1]` and `text[i]` keeps every visible character whole.

    Also refuses to cut inside a run of backticks, so a ``` fence is never torn apart, and
    right after a backslash, so a markdown escape such as `\\*` stays whole.
    """
    if i <= 0 or i >= len(text):
        return True
    before, after = text[i - 1], text[i]
    if "\ud800" <= before <= "\udbff" and "\udc00" <= after <= "\udfff":
        return False  # surrogate pair
    if (before == "\r" and after == "\n") or (before == "`" and after == "`") or before == "\\":
        return False
    if before == _ZWJ or is_extender(after):
        return False
    if _is_regional_indicator(before) and _is_regional_indicator(after):
        run = 0
        j = i - 1
        while j >= 0 and _is_regional_indicator(text[j]):
            run += 1
            j -= 1
        return run % 2 == 0  # flags are pairs of regional indicators
    return True


def safe_cut(text: str, lo: int, i: int) -> int:
    """The largest safe cut position in (lo, i]; `i` itself when there is none."""
    j = i
    while j > lo + 1 and not is_safe_cut(text, j):
        j -= 1
    return j if is_safe_cut(text, j) else i


def valid_unicode(text: str) -> str:
    """`text` with each lone surrogate (e.g. from bytes decoded with "surrogateescape") as U+FFFD.

    Such a string cannot be encoded as UTF-8, so JSON for a chat platform (or an HTML parser) fails on it.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text
