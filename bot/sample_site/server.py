"""The sample site: a small aiohttp server that answers like a WordPress 6.1 site.

It serves the made-up discussion of `discussion.py` through the same REST API shapes, status codes and
headers a real WordPress uses (see shared/fixtures/wordpress/), so the bot's WordPress source talks to it
unchanged; plus simple HTML pages in the classic theme's comment markup. While running it posts a new
comment every `interval` seconds, deterministically for a given `seed`.

The bot's account: user 2, login `mirrorbot`, application password `sample sample sample sample`
(with or without the spaces), role editor. A wrong password counts as anonymous, as on the real site.

Faithful to WordPress on purpose, so code that works here works there:
- REST errors are `{"code", "message", "data": {"status"}}` with WordPress's codes and messages.
- A trashed or held comment answers 401 `rest_cannot_read` to anonymous readers; a force-deleted one 404.
  Force deletion moves the comment's replies up to its parent, as `wp_delete_comment` does.
- Creating a comment does not check `parent` at all (WordPress doesn't): a trashed, foreign or missing
  parent is accepted. Duplicates (same post, parent, author name and email, text) answer 409.
- `require_name_email` is on: a comment needs an author name and email (`author` fills both in).
- A page past the last of a comments listing answers 200 `[]` (the comments controller has no page check);
  the posts listing answers 400 `rest_post_invalid_page_number`.
- The site's time zone is UTC, so `date` and `date_gmt` agree.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import math
import random
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from multidict import CIMultiDict, MultiDictProxy

from . import discussion, pages
from .rest import (
    RestError,
    add_query_arg,
    bool_param,
    date_param,
    enum_param,
    filter_fields,
    int_list,
    int_param,
    invalid,
    php_params,
    sanitize_key,
    str_param,
    to_int,
    wp_json,
)
from .wpformat import (
    avatar_urls,
    comment_text,
    convert_chars,
    mysql_to_rfc3339,
    rel_ugc,
    sanitize_author_name,
    wpautop,
    wptexturize,
)

log = logging.getLogger(__name__)

SITE_NAME = discussion.SITE_NAME
SITE_TAGLINE = discussion.SITE_TAGLINE
BOT_USER_ID = 2
BOT_USERNAME = "mirrorbot"
BOT_APP_PASSWORD = "sample sample sample sample"
BOT_EMAIL = "mirrorbot@example.test"
MAIN_POST_ID = discussion.FERRY.id
SECOND_POST_ID = discussion.LIBRARY.id

_BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)",
    "Mozilla/5.0 (X11; Linux x86_64; rv:119.0) Gecko/20100101 Firefox/119.0",
)
_COMMENT_STATUSES = ("approved", "hold", "spam", "trash")
_MAX_LENGTHS = (
    ("comment_author", "author_name", 245),
    ("comment_author_email", "author_email", 100),
    ("comment_author_url", "author_url", 200),
    ("comment_content", "content", 65525),
)
_DUPLICATE_MESSAGE = "Duplicate comment detected; it looks as though you&#8217;ve already said that!"
_NOCACHE = (
    ("Expires", "Wed, 11 Jan 1984 05:00:00 GMT"),
    ("Cache-Control", "no-cache, must-revalidate, max-age=0"),
)


# --- records -------------------------------------------------------------------------------------


@dataclass
class SiteUser:
    id: int
    login: str
    display_name: str
    email: str
    role: str  # "administrator" or "editor"
    app_password: str | None = None
    url: str = ""
    description: str = ""

    @property
    def can_moderate(self) -> bool:
        return self.role in ("administrator", "editor")

    @property
    def slug(self) -> str:
        return self.login


@dataclass
class SitePost:
    id: int
    slug: str
    title: str
    paragraphs: tuple[str, ...]
    date_gmt: datetime
    author: int = 1
    comment_status: str = "open"
    status: str = "publish"
    type: str = "post"


@dataclass
class SiteComment:
    """One stored comment. `content` is the raw text as WordPress stores it; `status` uses the REST words."""

    id: int
    post: int
    parent: int
    author_name: str
    author_email: str
    content: str
    date_gmt: datetime
    status: str = "approved"  # approved | hold | spam | trash
    user_id: int = 0
    author_url: str = ""
    author_ip: str = "127.0.0.1"
    author_user_agent: str = ""
    type: str = "comment"
    status_before_trash: str | None = None


@dataclass
class _Request:
    method: str
    params: dict[str, Any]
    query: list[tuple[str, str]]
    user: SiteUser | None
    match: dict[str, str]
    remote: str
    user_agent: str


@dataclass
class _Result:
    data: Any
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (rel, url) for the Link header


_Handler = Callable[[_Request], _Result]


# --- the site ------------------------------------------------------------------------------------


class SampleSite:
    """An in-memory WordPress look-alike on 127.0.0.1 with the sample discussion.

    `comments` (id → SiteComment), `posts` (id → SitePost) and `users` (id → SiteUser) are the live data;
    `add_comment`, `edit_comment`, `trash_comment`, `delete_comment` and `set_comment_status` change it the
    way the matching WordPress functions would, for tests. `add_live_comment` posts the next live follow-up
    now (the running site calls it every `interval` seconds).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        interval: float = 4.0,
        seed: int = 1,
        *,
        now: datetime | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.interval = interval
        self.seed = seed
        self.base_url = f"http://{host}:{port}"
        self.started_at = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        self.users: dict[int, SiteUser] = {
            1: SiteUser(1, "gazette", discussion.STAFF_NAME, "desk@example.test", "administrator"),
            BOT_USER_ID: SiteUser(
                BOT_USER_ID, BOT_USERNAME, BOT_USERNAME, BOT_EMAIL, "editor", BOT_APP_PASSWORD
            ),
        }
        self.posts: dict[int, SitePost] = {}
        self.comments: dict[int, SiteComment] = {}
        self.live_posted: list[int] = []  # ids of the comments the live generator added
        self._keys: dict[str, int] = {}  # SeedComment.key → comment id
        self._post_keys: dict[str, int] = {}
        self._next_id = 1
        self._rng = random.Random(seed)
        self._live_queue: list[int] = []
        self._live_cycle = 0
        self._runner: web.AppRunner | None = None
        self._live_task: asyncio.Task[None] | None = None
        self._routes = self._build_routes()
        self._load_seed()

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> str:
        """Serve the site; returns its base URL (`http://127.0.0.1:PORT`)."""
        if self._runner is not None:
            return self.base_url
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        address = runner.addresses[0]
        self.port = int(address[1])
        self.base_url = f"http://{self.host}:{self.port}"
        if self.interval > 0:
            self._live_task = asyncio.create_task(self._live_loop(), name="sample-site-live")
        log.info("sample site serving %s", self.base_url)
        return self.base_url

    async def stop(self) -> None:
        if self._live_task is not None:
            self._live_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._live_task
            self._live_task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SampleSite:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_root(self) -> str:
        return f"{self.base_url}/wp-json/"

    # --- data ------------------------------------------------------------------------------------

    def _load_seed(self) -> None:
        pending: list[tuple[float, int, discussion.SeedComment, discussion.SeedComment | None, int]] = []
        for seed_post in discussion.POSTS:
            self.posts[seed_post.id] = SitePost(
                id=seed_post.id,
                slug=seed_post.slug,
                title=seed_post.title,
                paragraphs=seed_post.paragraphs,
                date_gmt=self.started_at - timedelta(minutes=seed_post.minutes_ago),
            )
            self._post_keys[seed_post.key] = seed_post.id
            for order, (comment, parent) in enumerate(discussion.walk(seed_post.comments)):
                pending.append((comment.minutes_ago, order, comment, parent, seed_post.id))
        pending.sort(key=lambda item: (-item[0], item[4], item[1]))
        ids: dict[int, int] = {}  # id(SeedComment) → comment id
        for minutes_ago, _, comment, parent, post_id in pending:
            jitter = zlib.crc32(comment.text.encode()) % 50
            when = self.started_at - timedelta(minutes=minutes_ago, seconds=jitter)
            user = self.users.get(comment.user_id)
            author_key = zlib.crc32(comment.author.encode())
            record = self._store(
                post_id=post_id,
                parent=ids[id(parent)] if parent is not None else 0,
                author_name=comment.author,
                author_email=user.email if user else discussion.email_for(comment.author),
                content=comment.text,
                when=when,
                user_id=comment.user_id,
                author_ip=f"198.51.100.{author_key % 250 + 2}",
                user_agent=_BROWSERS[author_key % len(_BROWSERS)],
            )
            ids[id(comment)] = record.id
            if comment.key:
                self._keys[comment.key] = record.id

    def _store(
        self,
        *,
        post_id: int,
        parent: int,
        author_name: str,
        author_email: str,
        content: str,
        when: datetime | None = None,
        status: str = "approved",
        user_id: int = 0,
        author_url: str = "",
        author_ip: str = "127.0.0.1",
        user_agent: str = "",
    ) -> SiteComment:
        record = SiteComment(
            id=self._next_id,
            post=post_id,
            parent=parent,
            author_name=author_name,
            author_email=author_email,
            content=content,
            date_gmt=(when or self._now()).astimezone(UTC).replace(microsecond=0),
            status=status,
            user_id=user_id,
            author_url=author_url,
            author_ip=author_ip,
            author_user_agent=user_agent,
        )
        self._next_id += 1
        self.comments[record.id] = record
        return record

    @staticmethod
    def _now() -> datetime:
        return datetime.now(UTC).replace(microsecond=0)

    def comment_id(self, key: str) -> int:
        """The id of a seed comment by its `key` in discussion.py (e.g. `"oskar-long"`)."""
        return self._keys[key]

    def add_comment(
        self,
        post_id: int,
        parent: int,
        author_name: str,
        html: str,
        *,
        author_email: str | None = None,
        author_url: str = "",
        status: str = "approved",
        user_id: int = 0,
        when: datetime | None = None,
        user_agent: str = "sample-site",
    ) -> dict[str, Any]:
        """Insert a comment directly (no REST checks); returns its REST JSON in the `edit` context."""
        if post_id not in self.posts:
            raise KeyError(f"no post {post_id}")
        if status not in _COMMENT_STATUSES:
            raise ValueError(f"status must be one of {_COMMENT_STATUSES}")
        record = self._store(
            post_id=post_id,
            parent=parent,
            author_name=author_name,
            author_email=discussion.email_for(author_name) if author_email is None else author_email,
            content=html,
            when=when,
            status=status,
            user_id=user_id,
            author_url=author_url,
            user_agent=user_agent,
        )
        return self.comment_json(record, "edit")

    def edit_comment(self, comment_id: int, html: str) -> dict[str, Any]:
        """Replace a comment's raw text (WordPress has no modified date for comments)."""
        record = self.comments[comment_id]
        record.content = html
        return self.comment_json(record, "edit")

    def set_comment_status(self, comment_id: int, status: str) -> dict[str, Any]:
        """`approved`, `hold`, `spam`, `trash`, or `untrash` (back to what it was before the trash)."""
        self._change_status(self.comments[comment_id], status)
        return self.comment_json(self.comments[comment_id], "edit")

    def trash_comment(self, comment_id: int) -> dict[str, Any]:
        return self.set_comment_status(comment_id, "trash")

    def delete_comment(self, comment_id: int) -> dict[str, Any]:
        """Delete for good like `wp_delete_comment(id, true)`: its replies move up to its parent."""
        record = self.comments[comment_id]
        previous = self.comment_json(record, "edit", links=False)
        del self.comments[comment_id]
        for other in self.comments.values():
            if other.parent == comment_id:
                other.parent = record.parent
        return previous

    def _change_status(self, record: SiteComment, status: str) -> bool:
        if status == record.status:
            return False
        if status in ("approved", "approve", "1"):
            record.status = "approved"
        elif status in ("hold", "0"):
            record.status = "hold"
        elif status in ("spam", "trash"):
            record.status_before_trash = record.status
            record.status = status
        elif status in ("untrash", "unspam"):
            if record.status not in ("trash", "spam"):
                return False
            record.status = record.status_before_trash or "hold"
            record.status_before_trash = None
        else:
            return False
        return True

    def post_link(self, post: SitePost) -> str:
        return f"{self.base_url}/{post.slug}/"

    def comment_link(self, record: SiteComment) -> str:
        post = self.posts.get(record.post)
        page = self.post_link(post) if post else f"{self.base_url}/"
        return f"{page}#comment-{record.id}"

    def _has_children(self, record: SiteComment) -> bool:
        return any(c.parent == record.id and c.status in ("approved", "hold") for c in self.comments.values())

    # --- JSON shapes ------------------------------------------------------------------------------

    def rest_url(self, path: str) -> str:
        return f"{self.base_url}/wp-json/{path}"

    def comment_json(
        self, record: SiteComment, context: str = "view", *, links: bool = True
    ) -> dict[str, Any]:
        """A comment exactly as WordPress's REST API shows it in `context` (view, edit or embed)."""
        edit = context == "edit"
        data: dict[str, Any] = {
            "id": record.id,
            "post": record.post,
            "parent": record.parent,
            "author": record.user_id,
            "author_name": record.author_name,
        }
        if edit:
            data["author_email"] = record.author_email
        data["author_url"] = record.author_url
        if edit:
            data["author_ip"] = record.author_ip
            data["author_user_agent"] = record.author_user_agent
        stamp = mysql_to_rfc3339(record.date_gmt)
        data["date"] = stamp
        data["date_gmt"] = stamp
        data["content"] = {"rendered": comment_text(record.content, self.base_url)}
        if edit:
            data["content"]["raw"] = record.content
        data["link"] = self.comment_link(record)
        data["status"] = record.status
        data["type"] = record.type
        data["author_avatar_urls"] = avatar_urls(record.author_email)
        data["meta"] = []
        if context == "embed":
            keep = (
                "id",
                "author",
                "author_name",
                "author_url",
                "date",
                "content",
                "link",
                "type",
                "author_avatar_urls",
            )
            data = {k: v for k, v in data.items() if k in keep or k == "parent"}
        if links:
            data["_links"] = self._comment_links(record)
        return data

    def _comment_links(self, record: SiteComment) -> dict[str, Any]:
        links: dict[str, Any] = {
            "self": [{"href": self.rest_url(f"wp/v2/comments/{record.id}")}],
            "collection": [{"href": self.rest_url("wp/v2/comments")}],
        }
        if record.user_id:
            links["author"] = [{"embeddable": True, "href": self.rest_url(f"wp/v2/users/{record.user_id}")}]
        post = self.posts.get(record.post)
        if post is not None:
            links["up"] = [
                {"embeddable": True, "post_type": post.type, "href": self.rest_url(f"wp/v2/posts/{post.id}")}
            ]
        if record.parent:
            links["in-reply-to"] = [
                {"embeddable": True, "href": self.rest_url(f"wp/v2/comments/{record.parent}")}
            ]
        if self._has_children(record):
            links["children"] = [
                {"embeddable": True, "href": self.rest_url(f"wp/v2/comments?parent={record.id}")}
            ]
        return links

    def post_content(self, post: SitePost) -> tuple[str, str]:
        raw = "\n\n".join(
            f"<!-- wp:paragraph -->\n<p>{p}</p>\n<!-- /wp:paragraph -->" for p in post.paragraphs
        )
        rendered = "\n\n".join(f"\n<p>{convert_chars(wptexturize(p))}</p>\n" for p in post.paragraphs)
        return raw, rendered

    def post_excerpt(self, post: SitePost) -> str:
        words = " ".join(post.paragraphs).split()
        text = " ".join(words[:55]) + (" [&hellip;]" if len(words) > 55 else "")
        return wpautop(convert_chars(wptexturize(text)))

    def post_json(self, post: SitePost, context: str = "view") -> dict[str, Any]:
        """A post as `GET /wp/v2/posts/<id>` shows it (WordPress 6.1 fields)."""
        edit = context == "edit"
        stamp = mysql_to_rfc3339(post.date_gmt)
        raw, rendered = self.post_content(post)
        title = convert_chars(wptexturize(post.title))
        data: dict[str, Any] = {"id": post.id, "date": stamp, "date_gmt": stamp}
        data["guid"] = {"rendered": f"{self.base_url}/?p={post.id}"}
        if edit:
            data["guid"]["raw"] = data["guid"]["rendered"]
        data["modified"] = stamp
        data["modified_gmt"] = stamp
        if edit:
            data["password"] = ""
        data.update(slug=post.slug, status=post.status, type=post.type, link=self.post_link(post))
        data["title"] = {"raw": post.title, "rendered": title} if edit else {"rendered": title}
        content: dict[str, Any] = {"rendered": rendered, "protected": False}
        data["content"] = {"raw": raw, **content, "block_version": 1} if edit else content
        excerpt: dict[str, Any] = {"rendered": self.post_excerpt(post), "protected": False}
        data["excerpt"] = {"raw": "", **excerpt} if edit else excerpt
        data.update(
            author=post.author,
            featured_media=0,
            comment_status=post.comment_status,
            ping_status="open",
            sticky=False,
            template="",
            format="standard",
            meta=[],
            categories=[1],
            tags=[],
        )
        if edit:
            data["permalink_template"] = f"{self.base_url}/%postname%/"
            data["generated_slug"] = post.slug
        data["_links"] = {
            "self": [{"href": self.rest_url(f"wp/v2/posts/{post.id}")}],
            "collection": [{"href": self.rest_url("wp/v2/posts")}],
            "about": [{"href": self.rest_url("wp/v2/types/post")}],
            "author": [{"embeddable": True, "href": self.rest_url(f"wp/v2/users/{post.author}")}],
            "replies": [{"embeddable": True, "href": self.rest_url(f"wp/v2/comments?post={post.id}")}],
            "version-history": [{"count": 0, "href": self.rest_url(f"wp/v2/posts/{post.id}/revisions")}],
            "wp:attachment": [{"href": self.rest_url(f"wp/v2/media?parent={post.id}")}],
            "wp:term": [
                {
                    "taxonomy": "category",
                    "embeddable": True,
                    "href": self.rest_url(f"wp/v2/categories?post={post.id}"),
                },
                {
                    "taxonomy": "post_tag",
                    "embeddable": True,
                    "href": self.rest_url(f"wp/v2/tags?post={post.id}"),
                },
            ],
            "curies": [{"name": "wp", "href": "https://api.w.org/{rel}", "templated": True}],
        }
        return data

    def user_json(self, user: SiteUser, context: str = "view") -> dict[str, Any]:
        data: dict[str, Any] = {"id": user.id}
        if context == "edit":
            data["username"] = user.login
        data.update(
            name=user.display_name,
            url=user.url,
            description=user.description,
            link=f"{self.base_url}/author/{user.slug}/",
        )
        if context == "edit":
            data.update(locale="en_US", nickname=user.login, slug=user.slug, roles=[user.role])
            data.update(
                registered_date="2026-01-05T09:00:00+00:00", email=user.email, first_name="", last_name=""
            )
            caps = {"moderate_comments": True, "edit_posts": True, "edit_others_posts": True, "read": True}
            if user.role == "administrator":
                caps["manage_options"] = True
            data["capabilities"] = {**caps, "level_7": True, user.role: True}
            data["extra_capabilities"] = {user.role: True}
        else:
            data["slug"] = user.slug
        data["avatar_urls"] = avatar_urls(user.email)
        data["meta"] = []
        data["_links"] = {
            "self": [{"href": self.rest_url(f"wp/v2/users/{user.id}")}],
            "collection": [{"href": self.rest_url("wp/v2/users")}],
        }
        return data

    # --- REST routing -----------------------------------------------------------------------------

    def _build_routes(self) -> list[tuple[str, re.Pattern[str], dict[str, _Handler]]]:
        """(route as WordPress lists it, pattern, handlers by method) for every REST route served."""
        item: dict[str, _Handler] = {
            "GET": self._get_comment,
            "POST": self._update_comment,
            "PUT": self._update_comment,
            "PATCH": self._update_comment,
            "DELETE": self._delete_comment,
        }
        table: list[tuple[str, dict[str, _Handler]]] = [
            ("/", {"GET": self._rest_index}),
            ("/wp/v2", {"GET": self._rest_namespace}),
            ("/wp/v2/comments", {"GET": self._list_comments, "POST": self._create_comment}),
            ("/wp/v2/comments/(?P<id>[\\d]+)", item),
            ("/wp/v2/posts", {"GET": self._list_posts}),
            ("/wp/v2/posts/(?P<id>[\\d]+)", {"GET": self._get_post}),
            ("/wp/v2/pages", {"GET": self._list_pages}),
            ("/wp/v2/pages/(?P<id>[\\d]+)", {"GET": self._get_page}),
            ("/wp/v2/users/me", {"GET": self._users_me}),
            ("/wp/v2/users/(?P<id>[\\d]+)", {"GET": self._get_user}),
        ]
        return [
            (route, re.compile(rf"^{route.rstrip('/')}/?$", re.IGNORECASE), handlers)
            for route, handlers in table
        ]

    def _authenticate(self, request: web.Request) -> SiteUser | None:
        """HTTP Basic with an application password; anything wrong means anonymous (as WordPress answers)."""
        header = request.headers.get("Authorization", "")
        if header[:6].lower() != "basic ":
            return None
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        login, _, password = decoded.partition(":")
        for user in self.users.values():
            if login.lower() in (user.login.lower(), user.email.lower()) and user.app_password is not None:
                given = re.sub(r"[^a-zA-Z0-9]", "", password)
                if given and given == re.sub(r"[^a-zA-Z0-9]", "", user.app_password):
                    return user
        return None

    async def _read_body(self, request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        if request.content_type == "application/json":
            text = await request.text()
            if not text.strip():
                return {}
            try:
                body = json.loads(text)
            except json.JSONDecodeError as exc:
                raise RestError(
                    "rest_invalid_json",
                    "Invalid JSON body passed.",
                    400,
                    json_error_code=4,
                    json_error_message="Syntax error",
                ) from exc
            return body if isinstance(body, dict) else {}
        if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form: MultiDictProxy[Any] = await request.post()
            return php_params((k, v) for k, v in form.items() if isinstance(v, str))
        return {}

    async def _serve_rest(self, request: web.Request, route: str) -> web.Response:
        user = self._authenticate(request)
        method = "GET" if request.method == "HEAD" else request.method.upper()
        override = request.query.get("_method") or request.headers.get("X-HTTP-Method-Override")
        if override and method == "POST":
            method = override.upper()
        query = [(k, v) for k, v in request.query.items() if k != "rest_route"]
        handler: _Handler | None = None
        methods: list[str] = []
        match: dict[str, str] = {}
        for _, pattern, handlers in self._routes:
            m = pattern.match(route)
            if m:
                methods = list(handlers)
                handler = handlers.get(method)
                match = {k: v for k, v in m.groupdict().items() if v is not None}
                break
        try:
            if handler is None:
                methods = []
                raise RestError(
                    "rest_no_route", "No route was found matching the URL and request method.", 404
                )
            params = php_params(query)
            if method != "GET":
                params.update(await self._read_body(request))
            params.update(match)
            peer = request.remote or "127.0.0.1"
            ctx = _Request(method, params, query, user, match, peer, request.headers.get("User-Agent", ""))
            result = handler(ctx)
            fields = params.get("_fields")
            if fields:
                names = fields if isinstance(fields, list) else re.split(r"[\s,]+", str(fields))
                result.data = filter_fields(result.data, [n for n in names if n])
        except RestError as err:
            result = _Result(err.body(), err.status)
        allowed = [m for m in methods if m == "GET" or (user is not None and user.can_moderate)]
        return self._rest_response(result, user, allowed)

    def _rest_response(self, result: _Result, user: SiteUser | None, allowed: list[str]) -> web.Response:
        headers: CIMultiDict[str] = CIMultiDict()
        headers["Content-Type"] = "application/json; charset=UTF-8"
        headers["X-Robots-Tag"] = "noindex"
        link = f'<{self.api_root}>; rel="https://api.w.org/"'
        for rel, url in result.links:
            link += f', <{url}>; rel="{rel}"'
        headers["Link"] = link
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Access-Control-Expose-Headers"] = "X-WP-Total, X-WP-TotalPages, Link"
        headers["Access-Control-Allow-Headers"] = (
            "Authorization, X-WP-Nonce, Content-Disposition, Content-MD5, Content-Type"
        )
        for name, value in result.headers:
            headers.add(name, value)
        if allowed:
            headers["Allow"] = ", ".join(allowed)
        if user is not None:
            for name, value in _NOCACHE:
                headers[name] = value
        headers["Vary"] = "Origin"
        return web.Response(status=result.status, body=wp_json(result.data), headers=headers)

    @staticmethod
    def _auth_code(user: SiteUser | None) -> int:
        """`rest_authorization_required_code()`: 401 when logged out, 403 when logged in."""
        return 401 if user is None else 403

    # --- REST: index --------------------------------------------------------------------------------

    def _route_descriptions(self, prefix: str = "") -> dict[str, Any]:
        routes: dict[str, Any] = {}
        for route, _, handlers in self._routes:
            if not route.startswith(prefix):
                continue
            methods = list(handlers)
            entry: dict[str, Any] = {
                "namespace": "" if route == "/" else "wp/v2",
                "methods": methods,
                "endpoints": [{"methods": [m], "args": {}} for m in methods],
            }
            if "(?P" not in route:
                entry["_links"] = {"self": [{"href": self.rest_url(route.lstrip("/"))}]}
            routes[route] = entry
        return routes

    def _rest_index(self, req: _Request) -> _Result:
        data = {
            "name": SITE_NAME,
            "description": SITE_TAGLINE,
            "url": self.base_url,
            "home": self.base_url,
            "gmt_offset": "0",
            "timezone_string": "",
            "namespaces": ["oembed/1.0", "wp/v2", "wp-site-health/v1", "wp-block-editor/v1"],
            "authentication": {
                "application-passwords": {
                    "endpoints": {"authorization": f"{self.base_url}/wp-admin/authorize-application.php"}
                }
            },
            "routes": self._route_descriptions(),
            "site_logo": 0,
            "site_icon": 0,
            "site_icon_url": "",
            "_links": {"help": [{"href": "https://developer.wordpress.org/rest-api/"}]},
        }
        return _Result(data)

    def _rest_namespace(self, req: _Request) -> _Result:
        data = {
            "namespace": "wp/v2",
            "routes": self._route_descriptions("/wp/v2"),
            "_links": {"up": [{"href": self.api_root}]},
        }
        return _Result(data)

    # --- REST: comments -----------------------------------------------------------------------------

    def _find_comment(self, raw_id: str) -> SiteComment:
        record = self.comments.get(int(raw_id))
        if record is None:
            raise RestError("rest_comment_invalid_id", "Invalid comment ID.", 404)
        if record.post and record.post not in self.posts:
            raise RestError("rest_post_invalid_id", "Invalid post ID.", 404)
        return record

    def _can_read(self, record: SiteComment, user: SiteUser | None) -> bool:
        post = self.posts.get(record.post)
        if post is not None and post.status == "publish" and record.status == "approved":
            return True
        if user is None:
            return False
        return user.can_moderate or (record.user_id != 0 and record.user_id == user.id)

    def _list_comments(self, req: _Request) -> _Result:
        p = req.params
        user = req.user
        # Validation comes first, as in WordPress (before any permission check).
        context = enum_param(p, "context", ("view", "embed", "edit"), "view")
        page = int_param(p, "page", 1, minimum=1)
        per_page = int_param(p, "per_page", 10, 1, 100)
        order = enum_param(p, "order", ("asc", "desc"), "desc")
        orderby = enum_param(
            p, "orderby", ("date", "date_gmt", "id", "include", "post", "parent", "type"), "date_gmt"
        )
        after = date_param(p, "after")
        before = date_param(p, "before")
        post_in = int_list(p, "post")
        parent_in = int_list(p, "parent")
        parent_out = int_list(p, "parent_exclude") or []
        include = int_list(p, "include") or []
        exclude = int_list(p, "exclude") or []
        author_in = int_list(p, "author")
        author_out = int_list(p, "author_exclude") or []
        offset = int_param(p, "offset", 0) if "offset" in p else None
        search = str_param(p, "search").strip()
        author_email = str_param(p, "author_email").strip().lower()
        status = sanitize_key(p.get("status", "approve"))
        type_ = sanitize_key(p.get("type", "comment"))
        moderate = user is not None and user.can_moderate

        # get_items_permissions_check
        for post_id in post_in or []:
            if post_id == 0 and not moderate:
                raise RestError(
                    "rest_cannot_read",
                    "Sorry, you are not allowed to read comments without a post.",
                    self._auth_code(user),
                )
        if context == "edit" and not moderate:
            raise RestError(
                "rest_forbidden_context",
                "Sorry, you are not allowed to edit comments.",
                self._auth_code(user),
            )
        if not moderate:
            forbidden = [name for name in ("author", "author_exclude", "author_email") if p.get(name)]
            if type_ != "comment":
                forbidden.append("type")
            if status != "approve":
                forbidden.append("status")
            if forbidden:
                raise RestError(
                    "rest_forbidden_param",
                    "Query parameter not permitted: " + ", ".join(forbidden),
                    self._auth_code(user),
                )

        wanted_status: tuple[str, ...] | None = {
            "approve": ("approved",),
            "1": ("approved",),
            "hold": ("hold",),
            "0": ("hold",),
            "spam": ("spam",),
            "trash": ("trash",),
            "all": ("approved", "hold"),
            "any": None,
        }.get(status, (status,))
        needle = search.casefold()

        def wanted(c: SiteComment) -> bool:
            checks = (
                post_in is None or not post_in or c.post in post_in,
                parent_in is None or not parent_in or c.parent in parent_in,
                c.parent not in parent_out,
                not include or c.id in include,
                c.id not in exclude,
                author_in is None or not author_in or c.user_id in author_in,
                c.user_id not in author_out,
                not author_email or c.author_email.lower() == author_email,
                wanted_status is None or c.status in wanted_status,
                type_ in ("", "all") or c.type == type_,
                after is None or c.date_gmt > after,
                before is None or c.date_gmt < before,
            )
            if not all(checks):
                return False
            if needle:
                haystack = (c.author_name, c.author_email, c.author_url, c.author_ip, c.content)
                return any(needle in field.casefold() for field in haystack)
            return True

        found = [c for c in self.comments.values() if wanted(c)]
        sort_keys: dict[str, Callable[[SiteComment], tuple[Any, ...]]] = {
            "date": lambda c: (c.date_gmt, c.id),
            "date_gmt": lambda c: (c.date_gmt, c.id),
            "id": lambda c: (c.id,),
            "include": lambda c: (include.index(c.id) if c.id in include else len(include), c.id),
            "post": lambda c: (c.post, c.id),
            "parent": lambda c: (c.parent, c.id),
            "type": lambda c: (c.type, c.id),
        }
        found.sort(key=sort_keys[orderby], reverse=order == "desc")
        total = len(found)
        start = offset if offset is not None else per_page * (page - 1)
        items = [c for c in found[start : start + per_page] if self._can_read(c, user)]
        max_pages = math.ceil(total / per_page)

        result = _Result([self.comment_json(c, context) for c in items])
        result.headers += [("X-WP-Total", str(total)), ("X-WP-TotalPages", str(max_pages))]
        base = self.rest_url("wp/v2/comments")
        if page > 1:
            result.links.append(
                ("prev", add_query_arg(base, req.query, "page", str(min(page - 1, max_pages))))
            )
        if max_pages > page:
            result.links.append(("next", add_query_arg(base, req.query, "page", str(page + 1))))
        return result

    def _get_comment(self, req: _Request) -> _Result:
        context = enum_param(req.params, "context", ("view", "embed", "edit"), "view")
        record = self._find_comment(req.match["id"])
        user = req.user
        if context == "edit" and not (user and user.can_moderate):
            raise RestError(
                "rest_forbidden_context",
                "Sorry, you are not allowed to edit comments.",
                self._auth_code(user),
            )
        if not self._can_read(record, user):
            raise RestError(
                "rest_cannot_read", "Sorry, you are not allowed to read this comment.", self._auth_code(user)
            )
        return _Result(self.comment_json(record, context))

    def _content_param(self, params: Mapping[str, Any]) -> str | None:
        content = params.get("content")
        if isinstance(content, str):
            return content.strip()
        if isinstance(content, dict) and isinstance(content.get("raw"), str):
            return str(content["raw"]).strip()
        return None

    def _prepare(self, req: _Request) -> dict[str, Any]:
        """`prepare_item_for_database`: the fields a create or update request sets."""
        p = req.params
        out: dict[str, Any] = {}
        content = self._content_param(p)
        if content is not None:
            out["content"] = content
        if "post" in p:
            out["post"] = to_int("post", p["post"])
        if "parent" in p:
            out["parent"] = to_int("parent", p["parent"])
        if "author" in p:
            author = self.users.get(to_int("author", p["author"]))
            if author is None:
                raise RestError("rest_comment_author_invalid", "Invalid comment author ID.", 400)
            out.update(user_id=author.id, author_name=author.display_name, author_email=author.email)
            out["author_url"] = author.url
        if "author_name" in p:
            out["author_name"] = re.sub(r"<[^>]*>", "", str_param(p, "author_name")).strip()
        if "author_email" in p:
            email = str_param(p, "author_email").strip()
            if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
                raise invalid("author_email", "Invalid email address.", "rest_invalid_email")
            out["author_email"] = email
        if "author_url" in p:
            out["author_url"] = str_param(p, "author_url").strip()
        if "author_ip" in p and req.user is not None and req.user.can_moderate:
            out["author_ip"] = str_param(p, "author_ip")
        else:
            out["author_ip"] = req.remote
        agent = p.get("author_user_agent")
        if agent:
            out["author_user_agent"] = re.sub(r"\s+", " ", str(agent)).strip()
        elif req.user_agent:
            out["author_user_agent"] = req.user_agent
        for name in ("date", "date_gmt"):
            if p.get(name):
                moment = date_param(p, name)
                if moment is not None:
                    out["date_gmt"] = moment
                break
        return out

    def _create_comment(self, req: _Request) -> _Result:
        p = req.params
        user = req.user
        # create_item_permissions_check
        if user is None:
            raise RestError("rest_comment_login_required", "Sorry, you must be logged in to comment.", 401)
        if "author" in p and to_int("author", p["author"]) != user.id and not user.can_moderate:
            raise RestError(
                "rest_comment_invalid_author",
                "Sorry, you are not allowed to edit 'author' for comments.",
                403,
            )
        if "status" in p and not user.can_moderate:
            raise RestError(
                "rest_comment_invalid_status",
                "Sorry, you are not allowed to edit 'status' for comments.",
                403,
            )
        post_id = to_int("post", p["post"]) if "post" in p and p["post"] not in ("", None) else 0
        post = self.posts.get(post_id)
        if post is None:
            raise RestError(
                "rest_comment_invalid_post_id",
                "Sorry, you are not allowed to create this comment without a post.",
                403,
            )
        if post.status in ("draft", "trash"):
            code = "rest_comment_draft_post" if post.status == "draft" else "rest_comment_trash_post"
            raise RestError(code, "Sorry, you are not allowed to create a comment on this post.", 403)
        if post.comment_status != "open":
            raise RestError("rest_comment_closed", "Sorry, comments are closed for this item.", 403)

        # create_item
        if p.get("id"):
            raise RestError("rest_comment_exists", "Cannot create existing comment.", 400)
        if p.get("type") and p["type"] != "comment":
            raise RestError("rest_invalid_comment_type", "Cannot create a comment with that type.", 400)
        prepared = self._prepare(req)
        content = prepared.get("content", "")
        if not content:
            raise RestError("rest_comment_content_invalid", "Invalid comment content.", 400)
        if not any(prepared.get(k) for k in ("user_id", "author_name", "author_email", "author_url")):
            prepared.update(user_id=user.id, author_name=user.display_name, author_email=user.email)
            prepared["author_url"] = user.url
        if not prepared.get("author_name") or not prepared.get("author_email"):  # require_name_email
            raise RestError(
                "rest_comment_author_data_required",
                "Creating a comment requires valid author name and email values.",
                400,
            )
        for column, key, limit in _MAX_LENGTHS:
            if len(str(prepared.get(key, ""))) > limit:
                raise RestError(
                    f"{column}_column_length", "Comment field exceeds maximum length allowed.", 400
                )
        parent = prepared.get("parent", 0)
        author_name = sanitize_author_name(prepared["author_name"])
        author_email = prepared["author_email"]
        # wp_allow_comment: the duplicate check, then who gets approved.
        for other in self.comments.values():
            if (
                other.post == post.id
                and other.parent == parent
                and other.status != "trash"
                and other.author_name == author_name
                and (not author_email or other.author_email == author_email)
                and other.content == content
            ):
                raise RestError("comment_duplicate", _DUPLICATE_MESSAGE, 409)
        author_user = self.users.get(prepared.get("user_id", 0))
        if author_user is not None and (author_user.id == post.author or author_user.can_moderate):
            approved = "approved"
        else:
            approved = "approved" if self._check_comment(author_name, author_email, content) else "hold"
        record = self._store(
            post_id=post.id,
            parent=parent,
            author_name=author_name,
            author_email=author_email,
            content=rel_ugc(content, self.host),
            when=prepared.get("date_gmt"),
            status=approved,
            user_id=prepared.get("user_id", 0),
            author_url=prepared.get("author_url", ""),
            author_ip=prepared["author_ip"],
            user_agent=prepared.get("author_user_agent", ""),
        )
        if "status" in p:
            self._change_status(record, sanitize_key(p["status"]))
        context = "edit" if user.can_moderate else "view"
        result = _Result(self.comment_json(record, context), 201)
        result.headers.append(("Location", self.rest_url(f"wp/v2/comments/{record.id}")))
        return result

    def _check_comment(self, author_name: str, author_email: str, content: str) -> bool:
        """`check_comment` by default: under 2 links, and an earlier approved comment by the same person."""
        if len(re.findall(r"<a [^>]*href", content, re.IGNORECASE)) >= 2:
            return False
        if not author_name or not author_email:
            return False
        return any(
            c.status == "approved" and c.author_name == author_name and c.author_email == author_email
            for c in self.comments.values()
        )

    def _update_comment(self, req: _Request) -> _Result:
        record = self._find_comment(req.match["id"])
        user = req.user
        if user is None or not user.can_moderate:
            raise RestError(
                "rest_cannot_edit", "Sorry, you are not allowed to edit this comment.", self._auth_code(user)
            )
        p = req.params
        if "type" in p and p["type"] != record.type:
            raise RestError(
                "rest_comment_invalid_type", "Sorry, you are not allowed to change the comment type.", 404
            )
        prepared = self._prepare(req)
        if "post" in prepared and prepared["post"] not in self.posts:
            raise RestError("rest_comment_invalid_post_id", "Invalid post ID.", 403)
        if "content" in prepared and not prepared["content"]:
            raise RestError("rest_comment_content_invalid", "Invalid comment content.", 400)
        for column, key, limit in _MAX_LENGTHS:
            if len(str(prepared.get(key, ""))) > limit:
                raise RestError(
                    f"{column}_column_length", "Comment field exceeds maximum length allowed.", 400
                )
        if "content" in prepared:
            record.content = rel_ugc(prepared["content"], self.host)
        if "post" in prepared:
            record.post = prepared["post"]
        if "parent" in prepared:
            record.parent = prepared["parent"]
        if "user_id" in prepared:
            record.user_id = prepared["user_id"]
        if "author_name" in prepared:
            record.author_name = sanitize_author_name(prepared["author_name"])
        if "author_email" in prepared:
            record.author_email = prepared["author_email"]
        if "author_url" in prepared:
            record.author_url = prepared["author_url"]
        if "date_gmt" in prepared:
            record.date_gmt = prepared["date_gmt"]
        record.author_ip = prepared["author_ip"]  # WordPress rewrites it from the request, every time
        if "author_user_agent" in prepared:
            record.author_user_agent = prepared["author_user_agent"]
        if "status" in p:
            self._change_status(record, sanitize_key(p["status"]))
        return _Result(self.comment_json(record, "edit"))

    def _delete_comment(self, req: _Request) -> _Result:
        record = self._find_comment(req.match["id"])
        user = req.user
        if user is None or not user.can_moderate:
            raise RestError(
                "rest_cannot_delete",
                "Sorry, you are not allowed to delete this comment.",
                self._auth_code(user),
            )
        if bool_param(req.params, "force", False):
            return _Result({"deleted": True, "previous": self.delete_comment(record.id)})
        if record.status == "trash":
            raise RestError("rest_already_trashed", "The comment has already been trashed.", 410)
        self._change_status(record, "trash")
        return _Result(self.comment_json(record, "edit"))

    # --- REST: posts, pages, users -----------------------------------------------------------------

    def _post_context(self, req: _Request) -> str:
        context = enum_param(req.params, "context", ("view", "embed", "edit"), "view")
        if context == "edit" and not (req.user and req.user.can_moderate):
            raise RestError(
                "rest_forbidden_context",
                "Sorry, you are not allowed to edit posts in this post type.",
                self._auth_code(req.user),
            )
        return context

    def _get_post(self, req: _Request) -> _Result:
        post = self.posts.get(int(req.match["id"]))
        if post is None or post.type != "post":
            raise RestError("rest_post_invalid_id", "Invalid post ID.", 404)
        return _Result(self.post_json(post, self._post_context(req)))

    def _list_posts(self, req: _Request) -> _Result:
        p = req.params
        context = enum_param(p, "context", ("view", "embed", "edit"), "view")
        page = int_param(p, "page", 1, minimum=1)
        per_page = int_param(p, "per_page", 10, 1, 100)
        order = enum_param(p, "order", ("asc", "desc"), "desc")
        orderby = enum_param(
            p,
            "orderby",
            (
                "author",
                "date",
                "id",
                "include",
                "modified",
                "parent",
                "relevance",
                "slug",
                "include_slugs",
                "title",
            ),
            "date",
        )
        include = int_list(p, "include") or []
        exclude = int_list(p, "exclude") or []
        slugs_param = p.get("slug")
        slugs = (
            [s for s in re.split(r"[\s,]+", slugs_param) if s]
            if isinstance(slugs_param, str)
            else [str(s) for s in slugs_param]
            if isinstance(slugs_param, list)
            else []
        )
        search = str_param(p, "search").strip().casefold()
        after = date_param(p, "after")
        before = date_param(p, "before")
        context = self._post_context(req) if context == "edit" else context
        found = [
            post
            for post in self.posts.values()
            if post.type == "post"
            and post.status == "publish"
            and (not include or post.id in include)
            and post.id not in exclude
            and (not slugs or post.slug in slugs)
            and (not search or search in (post.title + " " + " ".join(post.paragraphs)).casefold())
            and (after is None or post.date_gmt > after)
            and (before is None or post.date_gmt < before)
        ]
        sort_keys: dict[str, Callable[[SitePost], tuple[Any, ...]]] = {
            "id": lambda post: (post.id,),
            "include": lambda post: (include.index(post.id) if post.id in include else len(include),),
            "slug": lambda post: (post.slug, post.id),
            "title": lambda post: (post.title, post.id),
        }
        found.sort(key=sort_keys.get(orderby, lambda post: (post.date_gmt, post.id)), reverse=order == "desc")
        total = len(found)
        max_pages = math.ceil(total / per_page)
        if page > max_pages and total > 0:
            raise RestError(
                "rest_post_invalid_page_number",
                "The page number requested is larger than the number of pages available.",
                400,
            )
        items = found[per_page * (page - 1) : per_page * page]
        result = _Result([self.post_json(post, context) for post in items])
        result.headers += [("X-WP-Total", str(total)), ("X-WP-TotalPages", str(max_pages))]
        base = self.rest_url("wp/v2/posts")
        if page > 1:
            result.links.append(
                ("prev", add_query_arg(base, req.query, "page", str(min(page - 1, max_pages))))
            )
        if max_pages > page:
            result.links.append(("next", add_query_arg(base, req.query, "page", str(page + 1))))
        return result

    def _list_pages(self, req: _Request) -> _Result:
        int_param(req.params, "page", 1, minimum=1)
        int_param(req.params, "per_page", 10, 1, 100)
        return _Result([], headers=[("X-WP-Total", "0"), ("X-WP-TotalPages", "0")])

    def _get_page(self, req: _Request) -> _Result:
        raise RestError("rest_post_invalid_id", "Invalid post ID.", 404)

    def _users_me(self, req: _Request) -> _Result:
        context = enum_param(req.params, "context", ("view", "embed", "edit"), "view")
        if req.user is None:
            raise RestError("rest_not_logged_in", "You are not currently logged in.", 401)
        return _Result(self.user_json(req.user, context))

    def _get_user(self, req: _Request) -> _Result:
        context = enum_param(req.params, "context", ("view", "embed", "edit"), "view")
        user = self.users.get(int(req.match["id"]))
        if user is None:
            raise RestError("rest_user_invalid_id", "Invalid user ID.", 404)
        has_posts = any(post.author == user.id for post in self.posts.values())
        if context == "edit" and not (
            req.user and (req.user.id == user.id or req.user.role == "administrator")
        ):
            raise RestError(
                "rest_user_cannot_view",
                "Sorry, you are not allowed to list users.",
                self._auth_code(req.user),
            )
        if not has_posts and req.user is None:
            raise RestError("rest_user_cannot_view", "Sorry, you are not allowed to list users.", 401)
        return _Result(self.user_json(user, context))

    # --- HTML pages ---------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path == "/wp-json" or path.startswith("/wp-json/"):
            return await self._serve_rest(request, path[len("/wp-json") :] or "/")
        if path == "/" and "rest_route" in request.query:
            return await self._serve_rest(request, request.query["rest_route"] or "/")
        if path == "/":
            if "p" in request.query:
                post = self.posts.get(int(request.query["p"])) if request.query["p"].isdigit() else None
                if post is not None:
                    return self._redirect(self.post_link(post))
                return self._html_response(
                    pages.render_page(self, "Page not found", pages.not_found_body()), 404
                )
            return self._html_response(pages.render_page(self, SITE_NAME, pages.home_body(self), home=True))
        m = re.fullmatch(r"/([a-z0-9-]+)(/?)", path)
        post = next((p for p in self.posts.values() if m and p.slug == m.group(1)), None)
        if post is not None and m is not None:
            if not m.group(2):
                return self._redirect(self.post_link(post))
            links = [
                (self.rest_url(f"wp/v2/posts/{post.id}"), 'rel="alternate"; type="application/json"'),
                (f"{self.base_url}/?p={post.id}", "rel=shortlink"),
            ]
            return self._html_response(
                pages.render_page(self, post.title, pages.post_body(self, post), post=post), links=links
            )
        return self._html_response(pages.render_page(self, "Page not found", pages.not_found_body()), 404)

    def _redirect(self, location: str) -> web.Response:
        headers: CIMultiDict[str] = CIMultiDict()
        headers["Link"] = f'<{self.api_root}>; rel="https://api.w.org/"'
        headers["Location"] = location
        headers["Content-Type"] = "text/html; charset=UTF-8"
        return web.Response(status=301, headers=headers)

    def _html_response(
        self, page: str, status: int = 200, links: list[tuple[str, str]] | None = None
    ) -> web.Response:
        headers: CIMultiDict[str] = CIMultiDict()
        headers["Content-Type"] = "text/html; charset=UTF-8"
        headers.add("Link", f'<{self.api_root}>; rel="https://api.w.org/"')
        for url, rel in links or []:
            headers.add("Link", f"<{url}>; {rel}")
        return web.Response(status=status, body=page.encode(), headers=headers)

    # --- live comments ------------------------------------------------------------------------------

    async def _live_loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                posted = self.add_live_comment()
            except Exception:  # never let one bad insert stop the demo
                log.exception("sample site: live comment failed")
                continue
            if posted is not None:
                log.info("sample site: new comment %s by %s", posted["id"], posted["author_name"])

    def add_live_comment(self) -> dict[str, Any] | None:
        """Post the next live follow-up now (deterministic for the seed); returns its JSON (edit context)."""
        if not discussion.LIVE:
            return None
        if not self._live_queue:
            self._live_queue = list(range(len(discussion.LIVE)))
            self._rng.shuffle(self._live_queue)
            self._live_cycle += 1
        item = discussion.LIVE[self._live_queue.pop(0)]
        post_id = self._post_keys.get(item.post, MAIN_POST_ID)
        target: SiteComment | None = None
        if item.reply_to is not None:
            key_id = self._keys.get(item.reply_to) if item.reply_to != "*" and self._live_cycle == 1 else None
            keyed = self.comments.get(key_id) if key_id is not None else None
            if keyed is not None and keyed.status == "approved":
                target = keyed
            else:
                candidates = [
                    c
                    for c in sorted(self.comments.values(), key=lambda c: c.id)
                    if c.post == post_id and c.status == "approved" and c.author_name != item.author
                ]
                target = self._rng.choice(candidates) if candidates else None
        if target is not None:
            text = item.text.replace("{name}", target.author_name)
        else:
            text = item.text.replace("@{name} ", "").replace("{name}", "")
        author_key = zlib.crc32(item.author.encode())
        record = self._store(
            post_id=post_id,
            parent=target.id if target else 0,
            author_name=item.author,
            author_email=discussion.email_for(item.author),
            content=text,
            author_ip=f"198.51.100.{author_key % 250 + 2}",
            user_agent=_BROWSERS[author_key % len(_BROWSERS)],
        )
        self.live_posted.append(record.id)
        return self.comment_json(record, "edit")
