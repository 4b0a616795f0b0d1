"""What a summary is made from: a thread of items (site comments and chat-only messages) and its shape.

`ThreadItem` is platform-neutral on purpose. Site comments become items through `thread_from_comments`;
chat-only messages (written in a mirrored chat thread and not relayed to the site) become items through
`chat_item` once the store keeps them (today it does not, see `bot.commands.summarize`).

`Structure` works out who answers whom. WordPress flattens deep threads, so readers answer someone
further up by writing "@Name" at the start of their reply; such a reply is attached to that person's
latest earlier comment, which gives the real reply chains.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from bot.convert import html_to_text
from bot.models import Comment, Page

__all__ = ["Structure", "Thread", "ThreadItem", "chat_item", "comment_item", "normalize", "thread_from_comments"]

_PUNCT = str.maketrans(
    {
        "\u2019": "'",  # ’ right single quotation mark: the usual curly apostrophe
        "\u2018": "'",  # ‘
        "\u02bc": "'",  # ʼ modifier letter apostrophe
        "\u2032": "'",  # ′ prime
        "\uff07": "'",  # ＇ fullwidth
        "`": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u00a0": " ",
    }
)


def normalize(text: str) -> str:
    """NFKC, curly apostrophes and quotes made straight: what every text comparison here works on."""
    return unicodedata.normalize("NFKC", text).translate(_PUNCT)


@dataclass(frozen=True)
class ThreadItem:
    """One contribution to a thread.

    `key` is unique in the thread and what an LLM cites: "c<comment id>" for a site comment,
    "m<...>" for a chat-only message. `parent` is the key it replies to (None at top level).
    """

    key: str
    parent: str | None
    author: str
    created_at: datetime  # aware, UTC
    text: str  # plain text (quoted text kept as "> " lines)
    link: str = ""  # where to read it; chat-only messages may have none
    source: Literal["site", "chat"] = "site"


@dataclass(frozen=True)
class Thread:
    title: str
    url: str
    items: tuple[ThreadItem, ...]

    def content_hash(self) -> str:
        """Changes whenever anything a summary could show changes (text, authors, times, links, shape)."""
        digest = hashlib.sha256()
        digest.update(f"{self.title}\x1f{self.url}\x1e".encode())
        for item in sorted(self.items, key=lambda i: i.key):
            fields = (item.key, item.parent or "", item.author, item.created_at.isoformat(), item.link, item.text)
            digest.update("\x1f".join(fields).encode() + b"\x1e")
        return digest.hexdigest()


def comment_item(comment: Comment) -> ThreadItem:
    return ThreadItem(
        key=f"c{comment.id}",
        parent=f"c{comment.parent_id}" if comment.parent_id else None,
        author=comment.author_name.strip() or "Anonymous",
        created_at=_utc(comment.created_at),
        text=html_to_text(comment.html),
        link=comment.link,
    )


def chat_item(
    chat: str,
    message_ref: str,
    author: str,
    created_at: datetime,
    text: str,
    reply_to: str | None = None,
    link: str = "",
) -> ThreadItem:
    """A chat-only message. `reply_to` is the key of what it answers (a "c…" comment or another "m…")."""
    ref = hashlib.sha256(f"{chat}\x1f{message_ref}".encode()).hexdigest()[:10]
    return ThreadItem(f"m{ref}", reply_to, author, _utc(created_at), text, link, "chat")


def thread_from_comments(
    page: Page | None,
    comments: Iterable[Comment],
    root_comment_id: int = 0,
    extra: Sequence[ThreadItem] = (),
) -> Thread:
    """The thread a chat thread shows: a whole page, or (thread per comment) one top-level comment
    and everything below it. `extra` adds chat-only messages."""
    comments = list(comments)
    if root_comment_id:
        wanted = {root_comment_id}
        for comment in sorted(comments, key=lambda c: (c.created_at, c.id)):
            if comment.parent_id in wanted:
                wanted.add(comment.id)
        # A reply can arrive before its parent is known; sweep until nothing changes.
        changed = True
        while changed:
            changed = False
            for comment in comments:
                if comment.parent_id in wanted and comment.id not in wanted:
                    wanted.add(comment.id)
                    changed = True
        comments = [c for c in comments if c.id in wanted]
    items = [comment_item(c) for c in comments]
    title = page.title if page else "this thread"
    if root_comment_id and page is not None:
        root = next((c for c in comments if c.id == root_comment_id), None)
        if root is not None:
            title = f"{root.author_name} on {page.title}"
    return Thread(title=title, url=page.url if page else "", items=tuple(items) + tuple(extra))


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


# -- structure ----------------------------------------------------------------------------


def _name_key(name: str) -> str:
    # lower(), not casefold(): "Preußen" keeps its length, so the mention's length in the text is known.
    return " ".join(normalize(name).lower().split())


_LEADING_MENTION = re.compile(r"^\s*@")


@dataclass
class Structure:
    """Who answers whom, over the items in time order (index i = the i-th item by time, then key)."""

    items: list[ThreadItem]
    parent: list[int]  # effective parent index, -1 for a top-level item (or one whose parent is gone)
    root: list[int]  # index of the top-level item each item hangs under
    children: list[list[int]]
    descendants: list[int]  # replies below each item, all levels
    repliers: list[int]  # distinct other people among those replies
    chain: list[int]  # length of the reply chain ending at each item (1 for a top-level item)
    mention_len: list[int]  # characters of a leading "@Name" (0 when none)
    authors: list[str] = field(default_factory=list)

    @property
    def longest_chain(self) -> int:
        return max(self.chain, default=0)

    @property
    def top_level(self) -> list[int]:
        return [i for i, p in enumerate(self.parent) if p < 0]

    @property
    def people(self) -> int:
        return len({_name_key(a) for a in self.authors})

    def own_text(self, i: int) -> str:
        """The item's words without the "@Name" it opens with and without lines quoting others."""
        text = self.items[i].text[self.mention_len[i] :].lstrip(" ,:;-—")
        lines = [line for line in text.splitlines() if not line.lstrip().startswith(">")]
        own = "\n".join(lines).strip()
        return own or self.items[i].text.strip()


def analyze_structure(thread: Thread) -> Structure:
    items = sorted(thread.items, key=lambda i: (i.created_at, i.key))
    index = {item.key: n for n, item in enumerate(items)}
    authors = [item.author for item in items]
    names = sorted({_name_key(a) for a in authors if a.strip()}, key=len, reverse=True)
    n = len(items)
    parent = [-1] * n
    mention_len = [0] * n
    latest_by_author: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        p = index.get(item.parent or "", -1)
        if p >= i:
            p = -1  # a parent dated after its reply: keep the graph acyclic
        mentioned = _leading_mention(item.text, names)
        if mentioned is not None:
            name, length = mentioned
            mention_len[i] = length
            if p < 0 or _name_key(items[p].author) != name:
                # "@Name" answers Name's latest earlier comment: in the same branch if there is one.
                candidates = [j for j in latest_by_author.get(name, []) if j < i]
                if candidates and p >= 0:
                    branch = _root_of(parent, p)
                    same = [j for j in candidates if _root_of(parent, j) == branch]
                    candidates = same or candidates
                if candidates and _name_key(item.author) != name:
                    p = candidates[-1]
        parent[i] = p
        latest_by_author.setdefault(_name_key(item.author), []).append(i)
    children: list[list[int]] = [[] for _ in range(n)]
    chain = [1] * n
    root = list(range(n))
    for i in range(n):
        p = parent[i]
        if p >= 0:
            children[p].append(i)
            chain[i] = chain[p] + 1
            root[i] = root[p]
    descendants = [0] * n
    below: list[set[str]] = [set() for _ in range(n)]
    for i in range(n - 1, -1, -1):  # parents come before their replies
        p = parent[i]
        if p >= 0:
            descendants[p] += 1 + descendants[i]
            below[p].add(_name_key(items[i].author))
            below[p] |= below[i]
    repliers = [len(below[i] - {_name_key(items[i].author)}) for i in range(n)]
    return Structure(items, parent, root, children, descendants, repliers, chain, mention_len, authors)


def _root_of(parent: list[int], i: int) -> int:
    while parent[i] >= 0:
        i = parent[i]
    return i


def _leading_mention(text: str, names: list[str]) -> tuple[str, int] | None:
    """("name key", characters to skip) when the text opens with "@Name" of a thread author."""
    match = _LEADING_MENTION.match(text)
    if match is None:
        return None
    start = match.end()
    rest = normalize(text[start : start + 80]).lower()
    rest = " ".join(rest.split())  # NFKC keeps the length of these texts; whitespace may shrink
    for name in names:  # longest first: "Rick Cummings" before "Rick"
        if rest.startswith(name) and (len(rest) == len(name) or not rest[len(name)].isalnum()):
            return name, start + _raw_length(text[start:], len(name))
    return None


def _raw_length(raw: str, normalized_length: int) -> int:
    """How many characters of `raw` make up its first `normalized_length` whitespace-collapsed characters."""
    seen, i, space = 0, 0, False
    while i < len(raw) and seen < normalized_length:
        if raw[i].isspace():
            if not space:
                seen += 1
            space = True
        else:
            seen += 1
            space = False
        i += 1
    return i
