"""Site → chat side effects: the outbox handlers that open threads and post, edit and delete
mirrored comments through the chat adapters."""

from __future__ import annotations

import functools

from bot.chats.base import ChatAdapter, ChatError
from bot.convert import excerpt, html_to_text
from bot.core.outbox import Done, Handler, PermanentError
from bot.models import CommentStatus, MirroredComment, Page, ParentContext, ThreadHeader
from bot.sources.base import SiteSource
from bot.store import Job, MapRow, Store, ThreadKey


@functools.lru_cache(maxsize=1024)
def said(html: str) -> str:
    """A comment's excerpt for the reply context of its answers. Cached: HTML → text takes 0.2-1 ms,
    and every answer to a popular comment, in every chat the page goes to, asks for the same one."""
    return excerpt(html_to_text(html), 120)


def _thread_key(job: Job) -> ThreadKey:
    p = job.payload
    return ThreadKey(p["chat"], p["channel"], p["site"], int(p["post_id"]), int(p["root"]))


class ChatDelivery:
    def __init__(self, store: Store, chats: dict[str, ChatAdapter], sources: dict[str, SiteSource]) -> None:
        self.store = store
        self.chats = chats
        self.sources = sources
        self.connecting: dict[str, str] = {}  # chats still trying to start → why they could not yet

    def handlers(self) -> dict[str, Handler]:
        return {
            "open_thread": self.open_thread,
            "post_comment": self.post_comment,
            "edit_comment": self.edit_comment,
            "delete_comment": self.delete_comment,
        }

    def _chat(self, name: str) -> ChatAdapter:
        chat = self.chats.get(name)
        if chat is None:
            raise PermanentError(f"chat {name!r} is not configured (any more)")
        if name in self.connecting:
            raise ChatError(f"{name} is not connected yet: {self.connecting[name]}", transient=True, retry_after=5.0)
        return chat

    async def page(self, site: str, post_id: int) -> Page:
        page = await self.store.get_page(site, post_id)
        if page is None:
            source = self.sources[site]
            await source.start()  # after a restart, a delivery can run before the first poll connected it
            page = await source.get_page(post_id)
            await self.store.save_page(page)
        return page

    async def open_thread(self, job: Job) -> Done:
        key = _thread_key(job)
        if await self.store.get_thread(key) is not None:
            return Done()
        chat = self._chat(key.chat)
        root = await self.store.get_comment(key.site, key.root_comment_id) if key.root_comment_id else None
        header = ThreadHeader(key.site, await self.page(key.site, key.post_id), root.comment if root else None)
        thread_ref = await chat.open_thread(key.channel, header, job.key)
        return Done(thread=(key, thread_ref))

    async def _thread_ref(self, key: ThreadKey) -> str:
        ref = await self.store.get_thread(key)
        if ref is None:
            raise PermanentError("its chat thread could not be made (see the failed open_thread job)")
        return ref

    async def _message(self, key: ThreadKey, comment_id: int) -> MirroredComment | None:
        """The comment as chat should show it now, or None when it is no longer visible."""
        stored = await self.store.get_comment(key.site, comment_id)
        if stored is None or stored.comment.status != CommentStatus.APPROVED:
            return None
        comment = stored.comment
        parent = None
        if comment.parent_id:
            answered = await self.store.get_comment(key.site, comment.parent_id)
            if answered is not None:
                parts = await self.store.message_parts(key.site, comment.parent_id, key.chat, key.channel)
                parent = ParentContext(
                    author_name=answered.comment.author_name,
                    excerpt=said(answered.comment.html),
                    link=answered.comment.link,
                    message_ref=parts[0].message_ref if parts else None,
                )
        page = await self.page(key.site, key.post_id)
        return MirroredComment(comment=comment, page_title=page.title, parent=parent)

    async def post_comment(self, job: Job) -> Done:
        key = _thread_key(job)
        comment_id = int(job.payload["comment_id"])
        if await self.store.message_parts(key.site, comment_id, key.chat, key.channel):
            return Done()  # already there (mirrored earlier, or written there by a human)
        message = await self._message(key, comment_id)
        if message is None:
            return Done()  # removed from the site before we got to it
        thread_ref = await self._thread_ref(key)
        refs = await self._chat(key.chat).send_comment(key.channel, thread_ref, message, job.key, job.inflight)
        return Done(add_map=self._map_rows(key, thread_ref, comment_id, refs))

    async def edit_comment(self, job: Job) -> Done:
        key = _thread_key(job)
        comment_id = int(job.payload["comment_id"])
        parts = [
            p for p in await self.store.message_parts(key.site, comment_id, key.chat, key.channel) if p.origin == "site"
        ]
        message = await self._message(key, comment_id)
        if not parts or message is None:
            return Done()
        thread_ref = parts[0].thread_ref
        old_refs = [p.message_ref for p in parts]
        refs = await self._chat(key.chat).edit_comment(key.channel, thread_ref, old_refs, message, job.key)
        return Done(
            add_map=self._map_rows(key, thread_ref, comment_id, refs),
            remove_map=[(key.chat, ref) for ref in old_refs if ref not in refs],
        )

    async def delete_comment(self, job: Job) -> Done:
        key = _thread_key(job)
        comment_id = int(job.payload["comment_id"])
        parts = [
            p for p in await self.store.message_parts(key.site, comment_id, key.chat, key.channel) if p.origin == "site"
        ]
        if not parts:
            return Done()
        refs = [p.message_ref for p in parts]
        await self._chat(key.chat).delete_messages(key.channel, parts[0].thread_ref, refs)
        return Done(remove_map=[(key.chat, ref) for ref in refs])

    @staticmethod
    def _map_rows(key: ThreadKey, thread_ref: str, comment_id: int, refs: list[str]) -> list[MapRow]:
        return [
            MapRow(key.chat, ref, key.channel, thread_ref, part, key.site, comment_id, "site")
            for part, ref in enumerate(refs)
        ]
