"""Split long messages into parts a chat platform accepts, without losing text.

Breaks are looked for, in this order: a blank line, a line break, the end of a sentence, a
space; failing those the text is cut between two whole characters. Whitespace at a break is
dropped (the indentation of the line after a line break is kept). A part that ends inside a
``` code block gets "\\n```" appended and the next part starts with the block's opening
"```lang\\n" again; those characters count against the limit. (With a limit too small for
those markers plus four more characters, blocks are split without that repair.)

Code fences are counted the way Discord does: every "```" opens or closes a block.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator
from itertools import accumulate

from bot.convert._unicode import safe_cut

FENCE = "```"
CLOSE = "\n" + FENCE
_FENCE_LANG = re.compile(r"```([A-Za-z0-9_+\-.#]{1,32})?\n")
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n")
_SENTENCE_END = re.compile(r"[.!?…][)\]\"'’”»]*(?=\s)|[。！？][」』）]*")
_SPACE = re.compile(r"[^\S\n]")
_TEXT = re.compile(r"\S")


def _chars(s: str) -> int:
    return len(s)


def _utf8_bytes(s: str) -> int:
    return len(s.encode("utf-8", "surrogatepass"))


class _Fences:
    """Where the ``` markers are, so the code-block state is known at any position."""

    def __init__(self, text: str) -> None:
        self.ends: list[int] = []  # end of each marker: a position >= end is past it
        self.langs: list[str] = []  # the language after each marker ("" if none)
        for marker in re.finditer(FENCE, text):
            lang = _FENCE_LANG.match(text, marker.start())
            self.ends.append(marker.end())
            self.langs.append((lang.group(1) or "") if lang else "")

    def open_at(self, pos: int) -> int | None:
        """Index of the marker that opened the block `pos` is inside, or None outside blocks."""
        count = bisect.bisect_right(self.ends, pos)
        return count - 1 if count % 2 else None


class _Splitter:
    def __init__(self, text: str, limit: int, size: Callable[[str], int]) -> None:
        self.text = text
        self.limit = limit
        self.size = size
        self.cum = [0, *accumulate(size(ch) for ch in text)]  # size of text[:i] is cum[i]
        self.end = len(text.rstrip())  # everything from here on is whitespace
        self.fences = _Fences(text)
        widest = max((self._reopen(i) for i in range(len(self.fences.langs))), key=size, default="")
        # Repair code blocks only when there is room for the markers and at least one character.
        self.repair = limit - size(widest) - size(CLOSE) >= 4

    def _reopen(self, marker: int) -> str:
        return f"{FENCE}{self.fences.langs[marker]}\n"

    def _fit(self, start: int, budget: int) -> int:
        """The furthest end such that text[start:end] fits in `budget`."""
        return bisect.bisect_right(self.cum, self.cum[start] + budget) - 1

    def _next_start(self, cut: int) -> int:
        """Skip the whitespace at a break, but keep the indentation of the line after it."""
        i = cut
        while i < self.end and self.text[i].isspace():
            i += 1
        newline = self.text.rfind("\n", cut, i)
        return newline + 1 if newline >= 0 else i

    def _last(self, pattern: re.Pattern[str], lo: int, hi: int, *, at_start: bool = False) -> int:
        """The last break `pattern` offers in (lo, hi]: where a match starts or ends; -1 if none."""
        cuts = (m.start() if at_start else m.end() for m in pattern.finditer(self.text, lo, hi + 2))
        return max((c for c in cuts if lo < c <= hi), default=-1)

    def _skip_space(self, pos: int) -> int:
        found = _TEXT.search(self.text, pos)
        return found.start() if found else len(self.text)

    def _breaks(self, first: int, end: int) -> Iterator[int]:
        """The last break of each kind in (first, end], best kind first (-1 for none)."""
        yield self._last(_PARAGRAPH_BREAK, first, end, at_start=True)
        yield self.text.rfind("\n", first + 1, end + 1)
        yield self._last(_SENTENCE_END, first, end)
        yield self._last(_SPACE, first, end, at_start=True)

    def _choose_cut(self, start: int, end: int) -> int:
        """Where to end the part that starts at `start` and may not go past `end` (< self.end)."""
        first = self._skip_space(start)  # the part must hold some text
        best = next((cut for cut in self._breaks(first, end) if cut > first), None)
        return best if best is not None else safe_cut(self.text, first, end)

    def _cut_with_fence(self, start: int, budget: int) -> tuple[int, bool]:
        """The cut for a part, and whether it must close a code block it ends inside."""
        cut = self._choose_cut(start, self._fit(start, budget))
        opener = self.fences.open_at(cut)
        if not self.repair or opener is None:
            return cut, False
        # Rather than end a part with just the opening "```lang", move the block to the next part.
        marker_end = self.fences.ends[opener]
        marker_start = marker_end - len(FENCE)
        only_opener = self.text[marker_end:cut].strip() in ("", self.fences.langs[opener])
        if only_opener and self.text[start:marker_start].strip():
            earlier = self._choose_cut(start, marker_start)
            if self.fences.open_at(earlier) is None:
                return earlier, False
        cut = self._choose_cut(start, self._fit(start, budget - self.size(CLOSE)))
        return cut, self.fences.open_at(cut) is not None

    def parts(self) -> list[str]:
        parts: list[str] = []
        start = self._next_start(0)
        while start < self.end:
            opener = self.fences.open_at(start) if self.repair else None
            prefix = "" if opener is None else self._reopen(opener)
            budget = self.limit - self.size(prefix)
            if self.cum[self.end] - self.cum[start] <= budget:
                parts.append(prefix + self.text[start : self.end])
                break
            smallest = budget - self.size(CLOSE) if self.repair else budget
            if not self.text[start : self._fit(start, smallest)].strip():
                start = self._skip_space(start)  # indentation wider than a part
                continue
            cut, close = self._cut_with_fence(start, budget)
            parts.append(prefix + self.text[start:cut].rstrip() + (CLOSE if close else ""))
            start = self._next_start(cut)
        return parts


def split_message(text: str, limit: int) -> list[str]:
    """Split `text` into parts of at most `limit` characters (Python `len`).

    Empty or whitespace-only text gives []. See the module docstring for where it breaks.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    return _Splitter(text, limit, _chars).parts()


def split_utf8(text: str, max_bytes: int) -> list[str]:
    """Split `text` into parts of at most `max_bytes` bytes in UTF-8 (e.g. for Matrix events).

    Same breaks and guarantees as `split_message`; `max_bytes` must hold any one character (4).
    """
    if max_bytes < 4:
        raise ValueError("max_bytes must be at least 4")
    return _Splitter(text, max_bytes, _utf8_bytes).parts()
