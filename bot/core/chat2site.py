"""Chat → site: a human's reply in a mirrored thread becomes a comment on the site.

Planning turns a chat event into an outbox job; the handlers post, edit or trash the
comment through the site source. A relay records its message ↔ comment link while it
still holds the site's lock, so the next poll sees the comment as already present in
the chat it came from and never echoes it back there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict

from bot.config import RelaySettings
from bot.convert import chat_text_to_site_html
from bot.core.mirrors import MirrorSpec
from bot.core.outbox import Done, Handler, PermanentError
from bot.models import ChatEdit, ChatEvent, ChatMessage, CommentStatus
from bot.ratelimit import RateLimited, RateLimiter
from bot.sources.base import DuplicateComment, SiteSource
from bot.store import Job, MapRow, NewJob, Store, ThreadKey

log = logging.getLogger(__name__)


def relay_author(name: str, platform_label: str) -> str:
    name = " ".join(name.split())[:60] or "Someone"
    return f"{name} (via {platform_label})"


def _relayed(n: int) -> str:
    return f"sent {n} message{'' if n == 1 else 's'} to the site"


def covering_mirror(mirrors: list[MirrorSpec], thread: ThreadKey, page_url: str) -> MirrorSpec | None:
    """The first active mirror that puts this page into this chat channel."""
    for mirror in mirrors:
        if (
            not mirror.paused
            and mirror.site == thread.site
            and any(t.chat == thread.chat and t.channel == thread.channel for t in mirror.targets)
            and mirror.covers(thread.post_id, page_url)
        ):
            return mirror
    return None


def plan_relay(
    message: ChatMessage, thread: ThreadKey, relay: str, parent_id: int, platform_label: str
) -> NewJob | None:
    html = chat_text_to_site_html(message.text)
    if not html.strip():
        return None
    payload = {
        "chat": message.chat,
        "channel": thread.channel,
        "thread_ref": message.thread_ref,
        "message_ref": message.message_ref,
        "site": thread.site,
        "post_id": thread.post_id,
        "parent_id": parent_id,
        "author_name": relay_author(message.author_name, platform_label),
        "html": html,
        "status": relay,
    }
    return NewJob(
        key=f"relay:{message.chat}:{message.message_ref}",
        lane=f"relay:{message.chat}:{message.thread_ref}",
        kind="relay",
        payload=payload,
    )


class ChatToSite:
    def __init__(
        self,
        store: Store,
        sources: dict[str, SiteSource],
        platform_labels: dict[str, str],
        site_locks: defaultdict[str, asyncio.Lock],
        limits: RelaySettings | None = None,
    ) -> None:
        self.store = store
        self.sources = sources
        self.labels = platform_labels
        self.site_locks = site_locks
        limits = limits or RelaySettings()
        self.flood_limit = RateLimiter(limits.per_user, limits.window, action=_relayed)

    def handlers(self) -> dict[str, Handler]:
        return {"relay": self.relay, "relay_edit": self.relay_edit, "relay_delete": self.relay_delete}

    # -- planning ----------------------------------------------------------------------

    async def plan(self, event: ChatEvent) -> NewJob | None:
        """The job an event asks for, or None when it is not ours to relay (and why is logged)."""
        if isinstance(event, ChatMessage):
            return await self._plan_message(event)
        lane = await self._relay_lane(event.chat, event.message_ref)
        if lane is None:
            return None  # not a relayed message: nothing on the site to change
        kind = "relay_edit" if isinstance(event, ChatEdit) else "relay_delete"
        payload: dict[str, object] = {"chat": event.chat, "message_ref": event.message_ref}
        suffix = ""
        if isinstance(event, ChatEdit):
            payload["html"] = chat_text_to_site_html(event.text)
            # Every edit is its own job (A → B → A must reach the site); seeing one twice after a
            # reconnect only sets the same text again.
            suffix = f":{time.time_ns()}"
        return NewJob(key=f"{kind}:{event.chat}:{event.message_ref}{suffix}", lane=lane, kind=kind, payload=payload)

    async def _relay_lane(self, chat: str, message_ref: str) -> str | None:
        """The relay lane of a message relayed to the site, or of one still on its way there: an
        edit or deletion queued behind its relay finds the comment when its turn comes."""
        mapped = await self.store.lookup_message(chat, message_ref)
        if mapped is not None:
            return f"relay:{chat}:{mapped.thread_ref}" if mapped.origin == "chat" else None
        return await self.store.open_job_lane(f"relay:{chat}:{message_ref}")

    async def _plan_message(self, message: ChatMessage) -> NewJob | None:
        thread = await self.store.find_thread(message.chat, message.thread_ref)
        if thread is None:
            return None  # not a mirrored thread
        if await self.store.lookup_message(message.chat, message.message_ref) is not None:
            return None  # relayed already (seen again after a reconnect), or one the bot mirrored
        source = self.sources.get(thread.site)
        page = await self.store.get_page(thread.site, thread.post_id)
        mirror = covering_mirror(await self.store.mirrors(), thread, page.url if page else "")
        if source is None or mirror is None or mirror.relay == "off" or not source.can_post:
            log.debug("not relaying %s: relay is off for this thread", message.message_ref)
            return None
        parent_id = thread.root_comment_id
        if message.reply_to_ref:
            answered = await self.store.lookup_message(message.chat, message.reply_to_ref)
            if answered is not None:
                parent_id = answered.comment_id
        if not self._within_limit(message):
            return None
        return plan_relay(message, thread, mirror.relay, parent_id, self.labels.get(message.chat, message.chat))

    def _within_limit(self, message: ChatMessage) -> bool:
        """A flood from one person stops at the limit instead of filling the site's comments."""
        user = f"{message.chat}:{message.author_id}"
        try:
            self.flood_limit.check(user)
        except RateLimited as refused:
            log.warning("not relaying %s from %s: %s", message.message_ref, user, refused)
            return False
        self.flood_limit.spend(user)
        return True

    # -- side effects ------------------------------------------------------------------

    async def _source(self, site: str) -> SiteSource:
        """The site's source, connected (a relay can run before the first poll has connected it)."""
        source = self.sources.get(site)
        if source is None:
            raise PermanentError(f"site {site!r} is not configured (any more)")
        await source.start()
        return source

    async def relay(self, job: Job) -> Done:
        p = job.payload
        source = await self._source(p["site"])
        post_id, author, html = int(p["post_id"]), str(p["author_name"]), str(p["html"])
        async with self.site_locks[p["site"]]:
            parent_id = await self._approved_parent(source, post_id, int(p["parent_id"]))
            comment = await source.find_reply(post_id, parent_id, author, html) if job.inflight else None
            if comment is None:
                try:
                    comment = await source.post_reply(post_id, parent_id, author, html, str(p["status"]))
                except DuplicateComment:
                    comment = await source.find_reply(post_id, parent_id, author, html)
                    if comment is None:
                        raise PermanentError("the site already has this exact comment from someone else") from None
            log.info("relayed %s:%s to %s as comment %d", p["chat"], p["message_ref"], p["site"], comment.id)
            row = MapRow(p["chat"], p["message_ref"], p["channel"], p["thread_ref"], 0, p["site"], comment.id, "chat")
            # Recorded under the site lock: a poll must not see the comment before this link exists.
            await self.store.finish_job(job.id, add_map=[row])
        return Done(recorded=True)

    async def _approved_parent(self, source: SiteSource, post_id: int, parent_id: int) -> int:
        """WordPress accepts a trashed parent or one on another post; climb to one that is fine."""
        for _ in range(20):
            if parent_id == 0:
                return 0
            parent = await source.get_comment(parent_id)
            if parent is not None and parent.status == CommentStatus.APPROVED and parent.post_id == post_id:
                return parent_id
            stored = await self.store.get_comment(source.name, parent_id)
            next_id = parent.parent_id if parent is not None else (stored.comment.parent_id if stored else 0)
            log.info("parent %d is gone or not approved; replying under %d instead", parent_id, next_id)
            parent_id = next_id
        return 0

    async def _relayed_comment(self, job: Job) -> MapRow | None:
        """The comment a relayed message became, looked up when the job runs (its relay may have
        finished after this job was planned, or failed for good)."""
        mapped = await self.store.lookup_message(str(job.payload["chat"]), str(job.payload["message_ref"]))
        if mapped is None or mapped.origin != "chat":
            log.info("%s of %s: the message never reached the site; nothing to change", job.kind, job.payload)
            return None
        return mapped

    async def relay_edit(self, job: Job) -> Done:
        mapped = await self._relayed_comment(job)
        if mapped is not None:
            await (await self._source(mapped.site)).edit_reply(mapped.comment_id, str(job.payload["html"]))
        return Done()

    async def relay_delete(self, job: Job) -> Done:
        mapped = await self._relayed_comment(job)
        if mapped is None:
            return Done()
        await (await self._source(mapped.site)).trash_reply(mapped.comment_id)
        return Done(remove_map=[(mapped.chat, mapped.message_ref)])
