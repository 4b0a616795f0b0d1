"""The optional LLM: an OpenAI-compatible `/v1/chat/completions` client, grounded prompts, answer checks.

The model gets the offline summary's figures and candidate points as grounding and the comments
themselves, each under its id ("c123"), trimmed to a token budget. A thread too long for one request is
summarized in parts (whole top-level threads per part), then the parts are merged in one last request.

Its answer must be one JSON object whose points each cite ids of the thread's comments. Anything else
(a timeout, an HTTP error, a non-JSON answer, points citing nothing real) raises `LLMError`, and the
caller falls back to the offline summary.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.config import SummarizeLLM
from bot.convert import excerpt
from bot.summarize.extractive import Digest, Length
from bot.summarize.render import Answer, CitedDisagreement, CitedPoint, time_span
from bot.summarize.thread import ThreadItem

log = logging.getLogger(__name__)

COMMENT_CHARS = {"short": 500, "long": 800}  # a comment is cut to this before budgeting
CHARS_PER_TOKEN = 3.5  # a cautious estimate for English (no tokenizer download needed)

SYSTEM = """You summarize the comment thread of a web page for a chat. Rules:
- Use only the comments given. Never invent facts, names, numbers or quotes.
- The figures given are computed and correct; do not restate or change them.
- Every point cites the ids of the comments it rests on, exactly as written, e.g. "c123".
- Answer with one JSON object and nothing else, in this shape:
{"points": [{"label": "2 to 5 words", "point": "one sentence", "cites": ["c123"]}],
 "disagreements": [{"claim": "what was said", "pushback": "how someone answered it", "cites": ["c123", "c456"]}]}
"""


class LLMError(Exception):
    """The LLM could not give a usable summary; `reason` is short, for the summary's footer."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def endpoint(base_url: str) -> str:
    """`…/v1` → `…/v1/chat/completions`; a bare host gets `/v1/chat/completions`."""
    base = base_url.rstrip("/")
    if base.endswith("/chat/completions"):
        return base
    if re.search(r"/v\d+$", base):
        return f"{base}/chat/completions"
    return f"{base}/v1/chat/completions"


class LLMClient:
    def __init__(self, settings: SummarizeLLM) -> None:
        self.settings = settings
        self.url = endpoint(settings.base_url)

    async def complete(self, system: str, user: str) -> str:
        """One chat completion, streaming off; the assistant's text."""
        import aiohttp  # only a bot that has an LLM configured loads it for summaries

        s = self.settings
        body: dict[str, Any] = {
            "model": s.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "stream": False,
            "temperature": 0,
            "max_tokens": s.max_output_tokens,
        }
        if s.json_mode:
            body["response_format"] = {"type": "json_object"}
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if s.api_key is not None and s.api_key.get_secret_value():
            headers["Authorization"] = f"Bearer {s.api_key.get_secret_value()}"
        timeout = aiohttp.ClientTimeout(total=s.timeout)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(self.url, json=body, headers=headers) as response,
            ):
                raw = await response.read()
                status = response.status
        except TimeoutError:
            raise LLMError(f"timed out after {s.timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise LLMError("unreachable", str(exc)) from None
        if status >= 400:
            raise LLMError(f"answered HTTP {status}", _error_message(raw))
        try:
            data = json.loads(raw)
            content = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise LLMError("gave an answer without the required shape", "not a chat completion") from None
        if not isinstance(content, str) or not content.strip():
            raise LLMError("gave an answer without the required shape", "empty message")
        return content


def _error_message(raw: bytes) -> str:
    try:
        data = json.loads(raw)
        message = data.get("error", {}).get("message") if isinstance(data.get("error"), dict) else data.get("error")
        return excerpt(str(message or raw[:200].decode("utf-8", "replace")), 200)
    except (ValueError, AttributeError):
        return excerpt(raw[:200].decode("utf-8", "replace"), 200)


# -- prompts --------------------------------------------------------------------------------------


def _figures(digest: Digest) -> str:
    f = digest.facts
    return (
        f"{f.comments} comments by {f.people} people; {f.threads} top-level threads; longest reply chain "
        f"{f.longest_chain}; {time_span(f.first, f.last)}"
    )


def _grounding(digest: Digest) -> str:
    lines = [f"Thread: {digest.facts.title}", f"Figures (computed): {_figures(digest)}"]
    if digest.points:
        lines.append("Candidate points from an offline ranking (use, merge or improve them):")
        lines += [f"- [{p.key}] {p.label}: \"{excerpt(p.quote, 200)}\" ({p.author})" for p in digest.points]
    if digest.disagreements:
        lines.append("Possible disagreements found offline:")
        lines += [
            f"- [{d.claim_key}] {d.claim_author}: \"{excerpt(d.claim, 120)}\" <- [{d.reply_key}] "
            f"{d.reply_author}: \"{excerpt(d.pushback, 120)}\""
            for d in digest.disagreements
        ]
    if digest.most_replied is not None:
        m = digest.most_replied
        lines.append(f"Most replied: [{m.key}] {m.author}, {m.replies} replies")
    return "\n".join(lines)


def _comment_line(item: ItemView) -> str:
    reply = f" (reply to {item.parent})" if item.parent else ""
    return f"[{item.key}]{reply} {item.author}, {item.when}: {item.text}"


@dataclass(frozen=True)
class ItemView:
    key: str
    parent: str | None
    author: str
    when: str
    text: str
    root: str  # key of the top-level comment it hangs under


def item_views(items: Sequence[ThreadItem], length: Length) -> list[ItemView]:
    """The comments as the model sees them: time order, one line each, cut to COMMENT_CHARS."""
    ordered = sorted(items, key=lambda i: (i.created_at, i.key))
    known = {i.key for i in ordered}
    roots: dict[str, str] = {}
    views = []
    for item in ordered:
        parent = item.parent if item.parent in known else None
        roots[item.key] = roots.get(parent, item.key) if parent else item.key
        text = excerpt(" ".join(item.text.split()), COMMENT_CHARS[length])
        views.append(ItemView(item.key, parent, item.author, f"{item.created_at:%d %b %H:%M}", text, roots[item.key]))
    return views


def plan_parts(views: list[ItemView], ranking: Sequence[str], budget: int, max_parts: int) -> list[list[ItemView]]:
    """Whole top-level threads packed into parts of at most `budget` tokens.

    A top-level thread bigger than the budget keeps its best-ranked comments (its first one always).
    With more parts than `max_parts`, the parts holding the best-ranked comments are kept.
    """
    rank = {key: n for n, key in enumerate(ranking)}
    branches: dict[str, list[ItemView]] = {}
    for view in views:
        branches.setdefault(view.root, []).append(view)
    parts: list[list[ItemView]] = []
    current: list[ItemView] = []
    used = 0
    for branch in branches.values():
        cost = sum(estimate_tokens(_comment_line(v)) + 1 for v in branch)
        if cost > budget:
            keep = {branch[0].key}
            spent = estimate_tokens(_comment_line(branch[0])) + 1
            for view in sorted(branch[1:], key=lambda v: rank.get(v.key, len(rank))):
                need = estimate_tokens(_comment_line(view)) + 1
                if spent + need <= budget:
                    keep.add(view.key)
                    spent += need
            branch = [v for v in branch if v.key in keep]
            cost = spent
        if current and used + cost > budget:
            parts.append(current)
            current, used = [], 0
        current.extend(branch)
        used += cost
    if current:
        parts.append(current)
    if len(parts) > max_parts:
        best = sorted(range(len(parts)), key=lambda n: (min(rank.get(v.key, len(rank)) for v in parts[n]), n))
        parts = [parts[n] for n in sorted(best[:max_parts])]
    return parts


def trim_to_budget(views: list[ItemView], ranking: Sequence[str], budget: int) -> list[ItemView]:
    """The best-ranked comments that fit `budget` tokens, in time order."""
    rank = {key: n for n, key in enumerate(ranking)}
    keep: set[str] = set()
    spent = 0
    for view in sorted(views, key=lambda v: rank.get(v.key, len(rank))):
        need = estimate_tokens(_comment_line(view)) + 1
        if spent + need <= budget:
            keep.add(view.key)
            spent += need
    return [v for v in views if v.key in keep]


def _want(length: Length) -> str:
    return "exactly 3 points" if length == "short" else "4 or 5 points"


def final_prompt(digest: Digest, comments: list[ItemView], length: Length, omitted: int) -> str:
    note = f"\n({omitted} less central comments were left out to fit.)" if omitted else ""
    body = "\n".join(_comment_line(v) for v in comments)
    return (
        f"{_grounding(digest)}\n\nComments (id, what it replies to, author, time UTC, text):\n{body}{note}\n\n"
        f"Write {_want(length)} and at most 2 disagreements (none if nobody disagreed). JSON only."
    )


def part_prompt(digest: Digest, comments: list[ItemView], number: int, total: int) -> str:
    body = "\n".join(_comment_line(v) for v in comments)
    return (
        f"Thread: {digest.facts.title}\nThis is part {number} of {total} of the thread (whole top-level threads)."
        f"\n\nComments (id, what it replies to, author, time UTC, text):\n{body}\n\n"
        "Write up to 3 points about this part and at most 2 disagreements, each citing comment ids. JSON only."
    )


def merge_prompt(digest: Digest, partials: list[Answer], length: Length) -> str:
    lines = []
    for number, answer in enumerate(partials, 1):
        for p in answer.points:
            lines.append(f"- part {number}: {p.label}: {p.text} [{', '.join(p.cites)}]")
        for d in answer.disagreements:
            lines.append(f"- part {number} disagreement: {d.claim} / {d.pushback} [{', '.join(d.cites)}]")
    return (
        f"{_grounding(digest)}\n\nThe thread was summarized in {len(partials)} parts. Their points, with the "
        f"comment ids they cite:\n" + "\n".join(lines) + f"\n\nMerge them into {_want(length)} for the whole thread "
        "and at most 2 disagreements, keeping the cited ids. JSON only."
    )


# -- answers ---------------------------------------------------------------------------------------

_CITE = re.compile(r"\[?\b(c\d+|m[0-9a-f]{10})\b\]?")


def parse_answer(content: str, known: Mapping[str, ThreadItem], min_points: int) -> Answer:
    """The model's JSON, checked: points with a label, a sentence and at least one real citation."""
    data = _json_object(content)
    raw_points = data.get("points")
    if not isinstance(raw_points, list):
        raise LLMError("gave an answer without the required shape", "no points list")
    points = []
    for raw in raw_points[:5]:
        if not isinstance(raw, dict):
            continue
        label, text = _string(raw.get("label")), _string(raw.get("point") or raw.get("text"))
        cites = _cites(raw.get("cites"), text, known)
        if label and text and cites:
            points.append(CitedPoint(excerpt(label, 60), _strip_cites(text), cites))
    if len(points) < min_points:
        raise LLMError(
            "gave an answer without the required shape", f"{len(points)} points cite the thread, {min_points} needed"
        )
    disagreements = []
    raw_disagreements = data.get("disagreements")
    for raw in raw_disagreements[:2] if isinstance(raw_disagreements, list) else []:
        if not isinstance(raw, dict):
            continue
        claim, pushback = _string(raw.get("claim")), _string(raw.get("pushback"))
        cites = _cites(raw.get("cites"), f"{claim} {pushback}", known)
        if claim and pushback and cites:
            disagreements.append(CitedDisagreement(_strip_cites(claim), _strip_cites(pushback), cites))
    return Answer(tuple(points), tuple(disagreements))


def _json_object(content: str) -> dict[str, Any]:
    text = content.strip()
    fence = re.match(r"^```(?:json)?\s*(.*?)\s*```$", text, re.S)
    if fence:
        text = fence.group(1)
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise LLMError("gave an answer without the required shape", "no JSON object")
    try:
        data = json.loads(text[start : end + 1])
    except ValueError:
        raise LLMError("gave an answer without the required shape", "invalid JSON") from None
    if not isinstance(data, dict):
        raise LLMError("gave an answer without the required shape", "not an object")
    return data


def _string(value: object) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def _cites(value: object, text: str, known: Mapping[str, ThreadItem]) -> tuple[str, ...]:
    found: list[str] = []
    values = value if isinstance(value, list) else [value] if isinstance(value, str | int) else []
    for raw in [*values, *_CITE.findall(text)]:
        key = str(raw).strip().strip("[]#").lower()
        if key.isdigit():
            key = f"c{key}"
        if key in known and key not in found:
            found.append(key)
    return tuple(found)


def _strip_cites(text: str) -> str:
    return " ".join(re.sub(r"\s*\[(?:c\d+|m[0-9a-f]{10})(?:,\s*(?:c\d+|m[0-9a-f]{10}))*\]", "", text).split())


# -- the whole LLM path -----------------------------------------------------------------------------


async def llm_answer(
    client: LLMClient, digest: Digest, items: Sequence[ThreadItem], length: Length
) -> Answer:
    """Ask the model (in parts when the thread is long); raise LLMError for anything unusable."""
    s = client.settings
    known = {item.key: item for item in items}
    min_points = min(3, len(digest.points)) or 1
    views = item_views(items, length)
    grounding = estimate_tokens(SYSTEM + _grounding(digest)) + 100
    budget = max(200, s.max_input_tokens - grounding)
    total = sum(estimate_tokens(_comment_line(v)) + 1 for v in views)
    if total <= budget or s.max_requests < 3:
        kept = trim_to_budget(views, digest.ranking, budget)
        content = await client.complete(SYSTEM, final_prompt(digest, kept, length, len(views) - len(kept)))
        return parse_answer(content, known, min_points)
    parts = plan_parts(views, digest.ranking, budget, s.max_requests - 1)
    limit = asyncio.Semaphore(2)

    async def one(number: int, part: list[ItemView]) -> Answer:
        async with limit:
            content = await client.complete(SYSTEM, part_prompt(digest, part, number, len(parts)))
        return parse_answer(content, known, 1)

    results = await asyncio.gather(*(one(n, p) for n, p in enumerate(parts, 1)), return_exceptions=True)
    partials = [r for r in results if isinstance(r, Answer)]
    failures = [r for r in results if isinstance(r, BaseException)]
    for failure in failures:
        if not isinstance(failure, LLMError):
            raise failure
    if len(partials) < max(1, len(parts) // 2 + len(parts) % 2):
        first = failures[0]
        raise first if isinstance(first, LLMError) else LLMError("failed")
    content = await client.complete(SYSTEM, merge_prompt(digest, partials, length))
    return parse_answer(content, known, min_points)
