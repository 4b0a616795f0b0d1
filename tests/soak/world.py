"""The soak's world: posts and comments on the real WordPress, a Matrix room with people in it,
a Discord guild on the fake; and what each side holds now, read from the platforms themselves."""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
import urllib.parse
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from tests.fake_discord import FakeDiscord
from tests.fake_discord.model import MANAGE_GUILD, MANAGE_WEBHOOKS, Channel, Member, Message
from tests.realwp import RealWordPress, WordPressError, _php_literal
from tests.synapse import MatrixAccount, MatrixHTTPError, MatrixUser, SynapseServer

T = TypeVar("T")

COMMENT_LINK = re.compile(r"#comment-(\d+)")
DISCORD_FOOTER = re.compile(r"#comment-(\d+)>\)$")
SPACING = 3  # seconds between backfill comments: their order on the site is never a tie

INSERT_PHP = """
$spec = json_decode(%s, true);
$ids = [];
foreach ($spec as $c) {
    $fields = [
        'comment_post_ID' => $c['post'],
        'comment_parent' => $c['parent'] >= 0 ? $ids[$c['parent']] : 0,
        'comment_author' => $c['author'],
        'comment_author_email' => 'reader@example.test',
        'comment_content' => $c['text'],
        'comment_approved' => 1,
    ];
    if ($c['date'] !== null) {
        $fields['comment_date_gmt'] = $c['date'];
        $fields['comment_date'] = get_date_from_gmt($c['date']);
    }
    $ids[] = wp_insert_comment($fields);
}
echo json_encode($ids);
"""

POSTS_PHP = """
$spec = json_decode(%s, true);
$ids = [];
foreach ($spec as $title) {
    $ids[] = wp_insert_post(['post_title' => $title, 'post_content' => 'Soak test page.',
                             'post_status' => 'publish', 'comment_status' => 'open']);
}
echo json_encode($ids);
"""


async def patiently(call: Callable[..., T], *args: Any, within: float = 120.0) -> T:
    """A blocking read of a server, in a thread, retried while the server restarts."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await asyncio.to_thread(call, *args)
        except (OSError, MatrixHTTPError, WordPressError) as exc:
            status = getattr(exc, "status", None) or getattr(getattr(exc, "response", None), "status", None)
            if (status is not None and status < 500) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


@dataclass
class SiteComment:
    id: int
    post: int
    parent: int
    author: str
    date: str
    raw: str
    status: str


@dataclass
class ChatView:
    """One platform's threads: post id → the comment ids of its mirrored messages, in order."""

    threads: dict[int, list[int]] = field(default_factory=dict)
    roots: defaultdict[int, int] = field(default_factory=lambda: defaultdict(int))  # post id → thread roots
    unparsed: int = 0  # bot messages that name no comment


class Site:
    """The soak's posts and comments on the real WordPress."""

    def __init__(self, wp: RealWordPress, tag: str, rng: random.Random) -> None:
        self.wp = wp
        self.tag = tag
        self.rng = rng
        self.posts: dict[int, str] = {}  # post id → title
        self.made = 0

    def title(self, index: int) -> str:
        return f"Soak {self.tag} page {index:03d}"

    async def make_posts(self, count: int) -> None:
        titles = [self.title(i) for i in range(count)]
        ids = json.loads(await asyncio.to_thread(self.wp.php_eval, POSTS_PHP % _php_literal(json.dumps(titles))))
        self.posts = dict(zip(ids, titles, strict=True))

    async def add_comments(self, count: int, backfill: bool) -> list[int]:
        """`count` comments spread over the posts, ~40 % of them replies; backfill ones are dated in
        the past, `SPACING` seconds apart; live ones get the current time."""
        start = datetime.now(UTC) - timedelta(seconds=SPACING * count + 600)
        spec: list[dict[str, Any]] = []
        posts = list(self.posts)
        for i in range(count):
            post = self.rng.choice(posts)
            earlier = [j for j, c in enumerate(spec) if c["post"] == post]
            parent = self.rng.choice(earlier) if earlier and self.rng.random() < 0.4 else -1
            self.made += 1
            date = (start + timedelta(seconds=SPACING * i)).strftime("%Y-%m-%d %H:%M:%S") if backfill else None
            author = f"Reader {self.rng.randint(1, 40)}"
            text = f"Comment {self.tag}-{self.made} by {author}: " + " ".join(
                self.rng.choice(WORDS) for _ in range(self.rng.randint(3, 25))
            )
            spec.append({"post": post, "parent": parent, "author": author, "text": text, "date": date})
        out = await asyncio.to_thread(self.wp.php_eval, INSERT_PHP % _php_literal(json.dumps(spec)))
        return [int(i) for i in json.loads(out)]

    async def comments(self) -> list[SiteComment]:
        """Every comment on the soak's posts, any status, oldest first (by date, then id)."""
        found: list[SiteComment] = []
        for post in self.posts:
            for c in await patiently(self.wp.list_comments, post):
                raw, author = c["content"]["raw"], c["author_name"]
                found.append(SiteComment(c["id"], c["post"], c["parent"], author, c["date_gmt"], raw, c["status"]))
        return sorted(found, key=lambda c: (c.date, c.id))


WORDS = [
    *("ferry", "harbour", "timetable", "night", "boat", "bikes", "winter", "café", "tickets", "pier"),
    *("captain", "weather", "storm", "route", "island", "evening", "morning", "quay", "crossing", "delay"),
]


class MatrixSide:
    """The room the bot mirrors into, and the people writing there."""

    def __init__(self, synapse: SynapseServer) -> None:
        self.synapse = synapse
        self.bot: MatrixAccount = synapse.register(synapse.unique("soakbot"))
        self.admin = MatrixUser(synapse, synapse.register(synapse.unique("soakadmin")))
        self.people = [MatrixUser(synapse, synapse.register(synapse.unique("soakfolk"))) for _ in range(2)]
        self.names = ["Mara", "Jonas"]
        self.room = ""

    async def setup(self) -> None:
        await self.admin.set_name("Ada Admin")
        for person, name in zip(self.people, self.names, strict=True):
            await person.set_name(name)
        self.room = await self.admin.create_room("Soak", invite=[self.bot.user_id, *(p.user_id for p in self.people)])
        for person in self.people:
            await person.join(self.room)

    async def close(self) -> None:
        for user in [self.admin, *self.people]:
            await user.close()

    async def events(self) -> list[dict[str, Any]]:
        """Every event of the room, oldest first (read directly from Synapse, as a member)."""
        token = self.people[0].account.access_token
        room = urllib.parse.quote(self.room)
        found: list[dict[str, Any]] = []
        since = ""
        while True:
            path = f"/_matrix/client/v3/rooms/{room}/messages?dir=f&limit=1000" + (
                f"&from={urllib.parse.quote(since)}" if since else ""
            )
            page = await patiently(self.synapse.request, "GET", path, None, token)
            found.extend(page.get("chunk", []))
            if not page.get("chunk") or not page.get("end"):
                return found
            since = page["end"]

    async def view(self, posts: dict[int, str]) -> ChatView:
        view = ChatView()
        root_post: dict[str, int] = {}
        by_title = {title: post for post, title in posts.items()}
        for event in await self.events():
            if event.get("type") != "m.room.message" or event.get("sender") != self.bot.user_id:
                continue
            content = event.get("content") or {}
            relation = content.get("m.relates_to") or {}
            body = str(content.get("body", ""))
            if not relation:
                post = next((p for t, p in by_title.items() if t in body), None)
                if post is not None:
                    view.roots[post] += 1
                    root_post.setdefault(event["event_id"], post)
                    view.threads.setdefault(post, [])
                continue
            if relation.get("rel_type") != "m.thread" or relation.get("event_id") not in root_post:
                continue
            link = COMMENT_LINK.search(body.split("\n", 1)[0])
            if link is None:
                view.unparsed += 1
                continue
            view.threads[root_post[relation["event_id"]]].append(int(link.group(1)))
        return view

    async def thread_targets(self, posts: dict[int, str]) -> dict[int, tuple[str, list[tuple[str, int]]]]:
        """post id → (thread root, the bot's comment events in it with their comment ids), for
        threads with a comment."""
        roots: dict[str, int] = {}
        events: defaultdict[str, list[tuple[str, int]]] = defaultdict(list)
        by_title = {title: post for post, title in posts.items()}
        for event in await self.events():
            if event.get("sender") != self.bot.user_id or event.get("type") != "m.room.message":
                continue
            relation = (event.get("content") or {}).get("m.relates_to") or {}
            body = str((event.get("content") or {}).get("body", ""))
            if not relation:
                post = next((p for t, p in by_title.items() if t in body), None)
                if post is not None:
                    roots.setdefault(event["event_id"], post)
            elif relation.get("rel_type") == "m.thread" and (link := COMMENT_LINK.search(body.split("\n", 1)[0])):
                events[relation["event_id"]].append((event["event_id"], int(link.group(1))))
        return {post: (root, events[root]) for root, post in roots.items() if events[root]}


class DiscordSide:
    """The guild on the fake Discord: text channels the bot makes threads in, an admin and two
    members. In a "webhook" channel the bot posts through a webhook (no nonce: it reconciles by
    reading the thread's history); in a "bot" channel it may not make webhooks and posts as
    itself, with a nonce (`enforce_nonce`)."""

    def __init__(self, fake: FakeDiscord, modes: list[str]) -> None:
        self.fake = fake
        self.guild = fake.add_guild("Soak Town")
        self.channels: dict[str, Channel] = {}
        for mode in modes:
            channel = fake.add_channel(self.guild, f"comments-{mode}")
            if mode == "bot":
                fake.deny(channel, fake.bot_role(self.guild).id, MANAGE_WEBHOOKS)
            self.channels[mode] = channel
        self.admin = fake.add_member(self.guild, "harbourmaster", "Harbour Master", permissions=MANAGE_GUILD)
        self.people: list[Member] = [
            fake.add_member(self.guild, "alice", "Alice"),
            fake.add_member(self.guild, "bob", "Bob"),
        ]

    def threads(self, posts: dict[int, str], channel: Channel) -> dict[int, list[Channel]]:
        by_title = {title: post for post, title in posts.items()}
        found: defaultdict[int, list[Channel]] = defaultdict(list)
        for thread in self.fake.threads_in(channel.id):
            if thread.name in by_title:
                found[by_title[thread.name]].append(thread)
        return found

    def mirrored(self, thread: Channel) -> list[Message]:
        return [m for m in self.fake.channel_messages(thread.id) if m.webhook_id or m.author.id == self.fake.bot.id]

    @staticmethod
    def comment_of(message: Message) -> int | None:
        link = DISCORD_FOOTER.search(message.content)
        return int(link.group(1)) if link else None

    def view(self, posts: dict[int, str], channel: Channel) -> ChatView:
        view = ChatView()
        for post, threads in self.threads(posts, channel).items():
            view.roots[post] = len(threads)
            ids: list[int] = []
            for thread in threads:
                for message in self.mirrored(thread):
                    comment = self.comment_of(message)
                    if comment is None:
                        view.unparsed += 1
                    else:
                        ids.append(comment)
            view.threads[post] = ids
        return view

    def thread_targets(self, posts: dict[int, str], channel: Channel) -> dict[int, tuple[Channel, list[Message]]]:
        """post id → (its thread, the bot's comment messages in it), for threads with a comment."""
        found: dict[int, tuple[Channel, list[Message]]] = {}
        for post, threads in self.threads(posts, channel).items():
            messages = self.mirrored(threads[0])
            if messages:
                found[post] = (threads[0], messages)
        return found
