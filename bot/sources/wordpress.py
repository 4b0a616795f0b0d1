"""WordPress over its REST API (`/wp/v2/comments`).

One request lists a whole site's comments, so polling cost grows with sites, not pages.
Facts we rely on (seen on a real WordPress 6.1): `after=` is strict and needs a `Z` to
mean UTC; at most 100 comments a page; a trashed comment answers 401 to the public and
a deleted one 404; a wrong application password is treated as anonymous (401).
"""

from __future__ import annotations

import asyncio
import base64
import html as htmllib
import json
import logging
import random
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urljoin

import aiohttp

from bot import __version__
from bot.config import WordPressSite
from bot.convert import excerpt, html_to_text
from bot.models import Comment, CommentStatus, Page
from bot.sources.base import DuplicateComment, SourceError
from bot.sources.guard import AddressPolicy, guarded_session, unreachable

log = logging.getLogger(__name__)

API_REL = "https://api.w.org/"
PER_PAGE = 100
PAGE_RETRIES = 2  # quick retries of one failed page of a listing
USER_AGENT = f"thread-mirror/{__version__} (comment mirror bot)"


def parse_time(value: str) -> datetime:
    """WordPress's `date_gmt` has no zone; it is UTC."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_after(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def comment_from_json(site: str, data: dict[str, Any], bot_user_id: int | None = None) -> Comment:
    avatars = data.get("author_avatar_urls") or {}
    avatar = avatars.get("96") or avatars.get("48") or next(iter(avatars.values()), "") if avatars else ""
    status = {
        "approved": CommentStatus.APPROVED,
        "approve": CommentStatus.APPROVED,
        "trash": CommentStatus.TRASH,
    }
    return Comment(
        site=site,
        id=int(data["id"]),
        post_id=int(data["post"]),
        parent_id=int(data.get("parent") or 0),
        author_name=str(data.get("author_name") or "Anonymous"),
        created_at=parse_time(data["date_gmt"]),
        html=str((data.get("content") or {}).get("rendered") or ""),
        link=str(data.get("link") or ""),
        status=status.get(str(data.get("status")), CommentStatus.HOLD),
        author_url=str(data.get("author_url") or ""),
        avatar_url=str(avatar or ""),
        bot_author=bot_user_id is not None and int(data.get("author") or 0) == bot_user_id,
    )


def explain_error(status: int, body: Any) -> SourceError:
    """Turn a WordPress error answer into a message an admin can act on."""
    code = body.get("code", "") if isinstance(body, dict) else ""
    said = htmllib.unescape(body.get("message", "")) if isinstance(body, dict) else ""
    said_part = f" (WordPress said: {said})" if said else ""
    if status == 401:
        return SourceError(
            f"application password rejected, or the account cannot comment{said_part}",
            transient=False,
            status=401,
        )
    if status == 403:
        if code == "rest_comment_closed":
            problem = "comments are closed on this post"
        elif code == "rest_comment_invalid_post_id":
            problem = "the post does not exist or does not take comments"
        else:
            problem = "the bot's account is not allowed to do this (it needs the editor role)"
        return SourceError(problem + said_part, transient=False, status=403)
    if status == 409:
        return DuplicateComment(f"the site already has this comment{said_part}")
    if status == 404:
        return SourceError(f"not found{said_part}", transient=False, status=404)
    if status == 429 or status >= 500:
        return SourceError(f"the site answered {status}{said_part}", transient=True, status=status)
    return SourceError(f"the site refused the request ({status}){said_part}", transient=False, status=status)


class WordPressSource:
    def __init__(
        self,
        name: str,
        settings: WordPressSite,
        session: aiohttp.ClientSession | None = None,
        policy: AddressPolicy | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.policy = policy or AddressPolicy.build([], [settings.url])
        self.can_post = settings.can_post
        self.api_root: str | None = None
        self.bot_user_id: int | None = None
        self.requests_made = 0
        self._session = session
        self._owns_session = session is None

    # -- connection ------------------------------------------------------------------

    async def start(self) -> None:
        if self._session is None:
            self._session = guarded_session(
                self.policy,
                timeout=aiohttp.ClientTimeout(total=self.settings.request_timeout),
                headers={"User-Agent": USER_AGENT},
            )
        if self.api_root is None:
            self.api_root = await self._discover_api_root()
            log.info("%s: REST API at %s", self.name, self.api_root)
        if self.can_post and self.bot_user_id is None:
            me = await self._request("GET", "wp/v2/users/me", auth=True)
            self.bot_user_id = int(me["id"])
            log.info("%s: posting as user %s (id %d)", self.name, me.get("name", "?"), self.bot_user_id)

    async def close(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    async def _discover_api_root(self) -> str:
        """The home page's `Link: <...>; rel="https://api.w.org/"`, else the `?rest_route=` form."""
        try:
            async with self._http.get(self.settings.url) as response:
                self.requests_made += 1
                for link in response.links.getall(API_REL, []):
                    return str(link["url"])
                if response.status >= 500:
                    raise SourceError(
                        f"the site answered {response.status}", transient=True, status=response.status
                    )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise unreachable(self.settings.url, exc) from exc
        return urljoin(self.settings.url, "?rest_route=/")

    @property
    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("WordPressSource.start() was not called")
        return self._session

    def _url(self, route: str, params: dict[str, Any] | None = None) -> str:
        assert self.api_root is not None
        query = {k: v for k, v in (params or {}).items() if v is not None}
        if "rest_route=" in self.api_root:
            base, _, _ = self.api_root.partition("?")
            return f"{base}?{urlencode({'rest_route': '/' + route, **query})}"
        url = urljoin(self.api_root, route)
        return f"{url}?{urlencode(query)}" if query else url

    def _basic_auth(self) -> str:
        if self.settings.username is None or self.settings.app_password is None:
            raise SourceError("this site has no username/app_password configured", transient=False)
        pair = f"{self.settings.username}:{self.settings.app_password.get_secret_value()}"
        return "Basic " + base64.b64encode(pair.encode()).decode()

    async def _request(
        self,
        method: str,
        route: str,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        auth: bool = False,
    ) -> Any:
        data, _ = await self._request_with_headers(method, route, params, body, auth)
        return data

    async def _request_with_headers(
        self,
        method: str,
        route: str,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        auth: bool = False,
    ) -> tuple[Any, dict[str, str]]:
        headers = {"Authorization": self._basic_auth()} if auth else None
        url = self._url(route, params)
        try:
            async with self._http.request(method, url, json=body, headers=headers) as response:
                self.requests_made += 1
                text = await response.text()
                headers = {k: v for k, v in response.headers.items()}
                try:
                    data = json.loads(text) if text else None
                except ValueError:
                    if response.status >= 400:
                        raise explain_error(response.status, None) from None
                    raise SourceError(
                        f"{method} {route}: the site sent something that is not JSON ({text[:80]!r})",
                        transient=True,
                    ) from None
                if response.status >= 400:
                    raise explain_error(response.status, data)
                return data, headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise unreachable(f"{method} {route}", exc) from exc

    # -- reading ---------------------------------------------------------------------

    async def list_comments(self, after: datetime | None) -> list[Comment]:
        params = {"after": format_after(after) if after else None}
        return await self._list_all(params)

    async def list_page_comments(self, post_id: int) -> list[Comment]:
        return await self._list_all({"post": post_id})

    async def list_comments_by_id(self, ids: Collection[int]) -> list[Comment]:
        """The public view of these comments, like the listing's: trashed, held or deleted ones are absent."""
        if not ids:
            return []
        return await self._list_all({"include": ",".join(str(i) for i in sorted(ids))})

    async def _list_all(self, filters: dict[str, Any]) -> list[Comment]:
        """Follow the pages of a listing; a comment that moves between pages is kept once."""
        seen: dict[int, Comment] = {}
        page = 1
        while True:
            params = {**filters, "per_page": PER_PAGE, "page": page, "orderby": "date_gmt", "order": "asc"}
            data, headers = await self._listing_page(params)
            for item in data:
                comment = comment_from_json(self.name, item, self.bot_user_id)
                seen[comment.id] = comment
            total_pages = int(headers.get("X-WP-TotalPages", "1") or 1)
            if page >= total_pages or not data:
                break
            page += 1
        return sorted(seen.values(), key=lambda c: (c.created_at, c.id))

    async def _listing_page(self, params: dict[str, Any]) -> tuple[list[Any], dict[str, str]]:
        """One page of a listing. A failed page is retried twice, briefly: a listing of many pages
        on a flaky site would otherwise hardly ever get through (the poller starts it over)."""
        for attempt in range(PAGE_RETRIES + 1):
            try:
                data, headers = await self._request_with_headers("GET", "wp/v2/comments", params)
                if not isinstance(data, list):
                    raise SourceError("comments listing is not a JSON list", transient=True)
                return data, headers
            except SourceError as exc:
                if not exc.transient or attempt == PAGE_RETRIES:
                    raise
                await asyncio.sleep(random.uniform(0.5, 1.0) * 2**attempt)
        raise AssertionError("unreachable")

    async def get_page(self, post_id: int) -> Page:
        data: Any = None
        for kind in ("posts", "pages"):
            try:
                data = await self._request(
                    "GET", f"wp/v2/{kind}/{post_id}", {"_fields": "id,link,title,excerpt"}
                )
                break
            except SourceError as exc:
                if exc.status not in (401, 403, 404):
                    raise
        if not isinstance(data, dict):
            return Page(site=self.name, id=post_id, url=self.settings.url, title=f"Post {post_id}")
        title = html_to_text((data.get("title") or {}).get("rendered", "")) or f"Post {post_id}"
        summary = excerpt(html_to_text((data.get("excerpt") or {}).get("rendered", "")), 200)
        return Page(
            site=self.name,
            id=post_id,
            url=str(data.get("link") or self.settings.url),
            title=title,
            excerpt=summary,
        )

    async def get_comment(self, comment_id: int) -> Comment | None:
        try:
            data = await self._request(
                "GET",
                f"wp/v2/comments/{comment_id}",
                {"context": "edit"} if self.can_post else None,
                auth=self.can_post,
            )
        except SourceError as exc:
            if exc.status in (401, 403, 404):
                return None
            raise
        return comment_from_json(self.name, data, self.bot_user_id)

    # -- writing (relays from chat) ------------------------------------------------------

    async def post_reply(
        self, post_id: int, parent_id: int, author_name: str, html: str, status: str
    ) -> Comment:
        body = {
            "post": post_id,
            "parent": parent_id,
            "content": html,
            "author": self.bot_user_id,
            "author_name": author_name,
            "status": "approved" if status == "approved" else "hold",
        }
        data = await self._request("POST", "wp/v2/comments", body=body, auth=True)
        return comment_from_json(self.name, data, self.bot_user_id)

    async def find_reply(self, post_id: int, parent_id: int, author_name: str, html: str) -> Comment | None:
        params = {
            "post": post_id,
            "parent": parent_id,
            "context": "edit",
            "status": "all",
            "per_page": PER_PAGE,
            "orderby": "date_gmt",
            "order": "desc",
        }
        data = await self._request("GET", "wp/v2/comments", params, auth=True)
        for item in data or []:
            raw = str((item.get("content") or {}).get("raw", ""))
            if item.get("author_name") == author_name and raw.strip() == html.strip():
                return comment_from_json(self.name, item, self.bot_user_id)
        return None

    async def edit_reply(self, comment_id: int, html: str) -> Comment:
        data = await self._request("POST", f"wp/v2/comments/{comment_id}", body={"content": html}, auth=True)
        return comment_from_json(self.name, data, self.bot_user_id)

    async def trash_reply(self, comment_id: int) -> None:
        try:
            await self._request("DELETE", f"wp/v2/comments/{comment_id}", auth=True)
        except SourceError as exc:
            if exc.status not in (404, 410):  # already gone is what we wanted
                raise
