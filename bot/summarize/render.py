"""One chat message from a digest (offline) or from an LLM's cited answer. Always within the limit.

Plain text, so it reads the same in Discord, Matrix and a terminal: no markdown a quote could break.
Links are written `<url>` (Discord shows no preview for those). Quoted text is neutralized so it can
ping nobody. Length is counted in UTF-16 code units, the strictest way a platform counts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.convert import excerpt, neutralize_mentions
from bot.summarize.extractive import Digest, Facts, Length
from bot.summarize.text import fingerprint
from bot.summarize.thread import ThreadItem

DEFAULT_LIMIT = 2000

# (main points, disagreements) tried in order; for each, the longest quotes that fit are searched.
_SHAPES: dict[str, list[tuple[int, int]]] = {
    "long": [(5, 2), (5, 1), (4, 1), (3, 1), (3, 0)],
    "short": [(3, 1), (3, 0), (2, 0)],
}
_QUOTE_CHARS = {"long": 260, "short": 180}  # the longest a quote is shown
_QUOTE_MIN = 90  # shorter quotes say too little: show fewer of them instead
_QUOTE_LAST = 40  # ... unless even the smallest shape needs it


def _fit_shapes(length: Length, compose: Callable[[int, int, int], str], limit: int) -> str:
    """The fullest shape whose text fits, with the longest quotes that fit it."""
    shapes = _SHAPES[length]
    for n, (n_points, n_disagreements) in enumerate(shapes):
        low = _QUOTE_LAST if n == len(shapes) - 1 else _QUOTE_MIN
        high = _QUOTE_CHARS[length]
        if units(compose(low, n_points, n_disagreements)) > limit:
            continue
        while high - low > 4:  # binary search for the longest quotes that still fit
            middle = (low + high) // 2
            if units(compose(middle, n_points, n_disagreements)) <= limit:
                low = middle
            else:
                high = middle - 1
        best = compose(high, n_points, n_disagreements)
        return best if units(best) <= limit else compose(low, n_points, n_disagreements)
    return _fit(compose(_QUOTE_LAST, *shapes[-1]), limit)


@dataclass(frozen=True)
class CitedPoint:
    label: str
    text: str
    cites: tuple[str, ...]


@dataclass(frozen=True)
class CitedDisagreement:
    claim: str
    pushback: str
    cites: tuple[str, ...]


@dataclass(frozen=True)
class Answer:
    """An LLM's summary after validation: every point cites at least one comment of the thread."""

    points: tuple[CitedPoint, ...]
    disagreements: tuple[CitedDisagreement, ...]


def units(text: str) -> int:
    """Length as Discord and JavaScript count it (UTF-16 code units): never less than len()."""
    return len(text.encode("utf-16-le")) // 2


def render_digest(digest: Digest, footer: str, length: Length = "short", limit: int = DEFAULT_LIMIT) -> str:
    facts = digest.facts
    if facts.comments == 0:
        return _fit(f"Summary: {_title(facts)} · no comments yet, so there is nothing to summarize.", limit)
    if facts.comments == 1:
        point = digest.points[0]
        when = _when(facts.first)
        text = (
            f"Summary: {_title(facts)} · 1 comment, by {point.author} ({when}), so there is nothing to "
            f"summarize yet. It says: {_quote(point.quote, 300)}{_link(point.link)}"
        )
        return _fit(text, limit)
    return _fit_shapes(length, lambda q, p, d: _compose_digest(digest, footer, q, p, d), limit)


def render_answer(
    digest: Digest,
    answer: Answer,
    items: Mapping[str, ThreadItem],
    footer: str,
    length: Length = "short",
    limit: int = DEFAULT_LIMIT,
) -> str:
    """An LLM's points and disagreements under the offline header; links come from the cited comments."""

    def compose(quote_chars: int, n_points: int, n_disagreements: int) -> str:
        lines = [_header(digest.facts), "Main points:"]
        for number, point in enumerate(answer.points[:n_points], 1):
            cited = items[point.cites[0]]
            lines.append(
                f"{number}. {_clean(point.label, 60)}: {_clean(point.text, quote_chars + 40)}"
                f" ({cited.author}){_link(cited.link)}"
            )
        if answer.disagreements and n_disagreements:
            lines.append("Disagreements:")
            for d in answer.disagreements[:n_disagreements]:
                cited = items[d.cites[-1]]
                lines.append(
                    f"• {_clean(d.claim, quote_chars // 2 + 30)} ↔ {_clean(d.pushback, quote_chars // 2 + 30)}"
                    f"{_link(cited.link)}"
                )
        lines.extend(_most_replied_lines(digest, {}, [p.cites[0] for p in answer.points[:n_points]], quote_chars))
        lines.append(f"— {footer}")
        return "\n".join(lines)

    return _fit_shapes(length, compose, limit)


def _compose_digest(digest: Digest, footer: str, quote_chars: int, n_points: int, n_disagreements: int) -> str:
    lines = [_header(digest.facts)]
    quoted: dict[str, int] = {}  # fingerprint of each quote shown → the point it belongs to (0: none)
    points = digest.points[:n_points]
    if points:
        lines.append("Main topics:" if digest.topics else "Main points:")
    for number, point in enumerate(points, 1):
        quote = _quote(point.quote, quote_chars)
        quoted[fingerprint(point.quote)] = number
        if digest.topics:
            extra = f" ({point.size} comments)"
            lines.append(f"{number}. {point.label}{extra}: {quote} — {point.author}{_link(point.link)}")
        else:
            replies = point.size - 1
            extra = f", {replies} repl{'y' if replies == 1 else 'ies'}" if replies else ""
            lines.append(f"{number}. {point.label}: {quote} — {point.author}{extra}{_link(point.link)}")
    disagreements = digest.disagreements[:n_disagreements]
    if disagreements:
        lines.append("Disagreements:")
    point_of = {p.key: n for n, p in enumerate(points, 1)}
    for d in disagreements:
        claim = _mention_or_quote(d.claim, d.claim_author, point_of.get(d.claim_key), quoted, quote_chars // 2 + 30)
        pushback = _mention_or_quote(
            d.pushback, d.reply_author, point_of.get(d.reply_key), quoted, quote_chars // 2 + 30
        )
        lines.append(f"• {claim} ↔ {pushback}{_link(d.reply_link)}")
    lines.extend(_most_replied_lines(digest, quoted, [p.key for p in points], quote_chars))
    lines.append(f"— {footer}")
    return "\n".join(lines)


def _mention_or_quote(text: str, author: str, point: int | None, quoted: dict[str, int], chars: int) -> str:
    """`Author: “text”`, or `Author (point 2)` when that text is already quoted above."""
    mark = fingerprint(text)
    for seen, number in quoted.items():
        if mark == seen or (len(mark) > 20 and mark in seen):
            return f"{author} (point {number})" if number else author
    quoted[mark] = point or 0
    return f"{author}: {_quote(text, chars)}"


def _most_replied_lines(digest: Digest, quoted: dict[str, int], point_keys: list[str], quote_chars: int) -> list[str]:
    top = digest.most_replied
    if top is None:
        return []
    counts = f"{top.replies} repl{'y' if top.replies == 1 else 'ies'}"
    if top.repliers:
        counts += f" from {top.repliers} {'person' if top.repliers == 1 else 'people'}"
    if top.key in point_keys:
        return [f"Most replied: point {point_keys.index(top.key) + 1} ({top.author}), {counts}."]
    mark = fingerprint(top.quote)
    if any(mark == seen or (len(mark) > 20 and mark in seen) for seen in quoted):
        return [f"Most replied: {top.author}, {counts}.{_link(top.link)}"]
    return [f"Most replied: {top.author}, {counts}: {_quote(top.quote, quote_chars // 2 + 40)}{_link(top.link)}"]


def _header(facts: Facts) -> str:
    comments = f"{facts.comments} comment{'s' if facts.comments != 1 else ''}"
    if facts.chat_messages:
        comments += f" (incl. {facts.chat_messages} in chat only)"
    people = f"{facts.people} {'person' if facts.people == 1 else 'people'}"
    threads = f"{facts.threads} thread{'s' if facts.threads != 1 else ''}"
    return (
        f"Summary: {_title(facts)} · {comments} by {people} · {threads} · longest reply chain "
        f"{facts.longest_chain} · {time_span(facts.first, facts.last)}"
    )


def _title(facts: Facts) -> str:
    return excerpt(neutralize_mentions(facts.title), 100) or "this thread"


def _clean(text: str, chars: int) -> str:
    cut = excerpt(neutralize_mentions(text), max(chars, 20))
    return cut[:-1] if cut.endswith((".…", "!…", "?…")) else cut  # a whole sentence needs no "…"


def _quote(text: str, chars: int) -> str:
    return f"“{_clean(text, chars)}”"


def _link(link: str) -> str:
    return f" <{link}>" if link else ""


def _when(moment: datetime | None) -> str:
    return moment.strftime("%d %b %Y %H:%M UTC") if moment else "at an unknown time"


def time_span(first: datetime | None, last: datetime | None) -> str:
    """"14 Oct 10:10–14:38 UTC (4 h 28 min)"; a span over days names both days."""
    if first is None or last is None:
        return "no time"
    if last <= first:
        return first.strftime("%d %b %Y %H:%M UTC")
    if first.date() == last.date():
        span = f"{first:%d %b %Y %H:%M}–{last:%H:%M} UTC"
    elif first.year == last.year:
        span = f"{first:%d %b %H:%M} – {last:%d %b %Y %H:%M} UTC"
    else:
        span = f"{first:%d %b %Y %H:%M} – {last:%d %b %Y %H:%M} UTC"
    return f"{span} ({duration((last - first).total_seconds())})"


def duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _fit(text: str, limit: int) -> str:
    """Last resort: drop whole lines from the end (keeping the footer), then cut the text."""
    lines = text.split("\n")
    while units("\n".join(lines)) > limit and len(lines) > 2:
        del lines[-2]
    text = "\n".join(lines)
    if units(text) <= limit:
        return text
    cut = text[: max(1, limit - 1)]
    while units(cut) > limit - 1:
        cut = cut[:-1]
    return cut + "…"
