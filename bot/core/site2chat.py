"""Site → chat planning (pure): what a poll saw becomes stored comments and outbox jobs.

Planning is idempotent. Every job has a stable key, and the outbox ignores a key it
already has, so planning the same comments twice (overlapping poll windows, a restart,
a backfill) never delivers twice. A target that already has a message for a comment
(because a human wrote it there and we relayed it to the site) gets no copy: that is
how a relayed reply is never echoed back to where it came from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from bot.core.mirrors import MirrorSpec, Target
from bot.models import Comment, CommentStatus
from bot.store import NewJob, StoredComment, ThreadKey

VISIBLE = CommentStatus.APPROVED


def content_hash(html: str) -> str:
    return hashlib.sha256(html.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class PollPlan:
    upserts: list[tuple[Comment, str, int]] = field(default_factory=list)  # comment, hash, generation
    jobs: list[NewJob] = field(default_factory=list)
    new: int = 0
    edited: int = 0
    removed: int = 0


def thread_root(comment_id: int, parents: dict[int, int]) -> int:
    """The top-level comment a comment belongs to, as far as its ancestors are known."""
    current = comment_id
    for _ in range(1000):  # a loop in bad data must not hang us
        parent = parents.get(current, 0)
        if parent == 0 or parent not in parents:
            return current
        current = parent
    return current


def targets_for(
    comment: Comment, mirrors: Sequence[MirrorSpec], parents: dict[int, int]
) -> list[tuple[ThreadKey, MirrorSpec]]:
    """The chat threads a comment belongs in, one per distinct target of the mirrors that cover it."""
    keys: dict[Target, tuple[ThreadKey, MirrorSpec]] = {}
    for mirror in mirrors:
        if mirror.paused or mirror.site != comment.site or not mirror.covers(comment.post_id, comment.page_url):
            continue
        root = thread_root(comment.id, parents) if mirror.thread_per == "comment" else 0
        for target in mirror.targets:
            thread = ThreadKey(target.chat, target.channel, comment.site, comment.post_id, root)
            keys.setdefault(target, (thread, mirror))
    return list(keys.values())


def in_backfill(mirror: MirrorSpec, comment: Comment, now: datetime) -> bool:
    """Is this mirror still catching up on history that includes this comment?"""
    if mirror.backfilled:
        return False
    return mirror.backfill_days is None or comment.created_at >= now - timedelta(days=mirror.backfill_days)


def _comment_job(kind: str, comment: Comment, thread: ThreadKey, suffix: str) -> NewJob:
    key = f"{kind}:{thread.chat}:{thread.channel}:{comment.site}:{comment.id}:{suffix}"
    payload = {
        "site": comment.site,
        "comment_id": comment.id,
        "chat": thread.chat,
        "channel": thread.channel,
        "post_id": thread.post_id,
        "root": thread.root_comment_id,
    }
    return NewJob(key=key, lane=thread.lane, kind=kind, payload=payload)


def open_thread_job(thread: ThreadKey) -> NewJob:
    payload = {
        "chat": thread.chat,
        "channel": thread.channel,
        "site": thread.site,
        "post_id": thread.post_id,
        "root": thread.root_comment_id,
    }
    return NewJob(key=f"open:{thread.lane}", lane=thread.lane, kind="open_thread", payload=payload)


def plan_poll(
    seen: Sequence[Comment],
    known: dict[int, StoredComment],
    mirrors: Sequence[MirrorSpec],
    mapped: set[tuple[int, str, str]],
    window_start: datetime | None = None,
    parents: dict[int, int] | None = None,
    now: datetime | None = None,
) -> PollPlan:
    """Plan deliveries for what one listing of a site returned.

    A comment is posted to a chat when it is new to us, or when a mirror is still catching up
    on its history (backfill); never where it already has a message. `known` holds the stored
    comments for every id in `seen` and, when `window_start` is set (the listing re-read
    everything created since then), every stored comment of that window: those missing from
    the listing were trashed, deleted or unapproved.
    """
    now = now or datetime.now(UTC)
    plan = PollPlan()
    tree = dict(parents or {})
    tree.update({s.comment.id: s.comment.parent_id for s in known.values()})
    tree.update({c.id: c.parent_id for c in seen})

    for comment in seen:
        if comment.status != VISIBLE:
            continue
        digest = content_hash(comment.html)
        old = known.get(comment.id)
        generation = old.generation if old else 0
        if old is not None and old.comment.status != VISIBLE:
            generation += 1  # it came back: deliver it again under fresh keys
        is_new = old is None or old.comment.status != VISIBLE
        edited = not is_new and old is not None and old.content_hash != digest
        if is_new:
            plan.new += 1
            plan.upserts.append((comment, digest, generation))
        elif edited or (old is not None and old.comment != replace(comment, html=old.comment.html)):
            plan.edited += edited  # else only its metadata (author name, link) changed
            plan.upserts.append((comment, digest, generation))
        for thread, mirror in targets_for(comment, mirrors, tree):
            # A mirror still catching up takes its history window; afterwards, what is new.
            wanted = in_backfill(mirror, comment, now) if not mirror.backfilled else is_new
            if wanted and (comment.id, thread.chat, thread.channel) not in mapped:
                plan.jobs.append(open_thread_job(thread))
                plan.jobs.append(_comment_job("post_comment", comment, thread, f"g{generation}"))
            if edited:
                plan.jobs.append(_comment_job("edit_comment", comment, thread, digest[:16]))

    if window_start is not None:
        listed = {c.id for c in seen if c.status == VISIBLE}
        for stored in known.values():
            old_comment = stored.comment
            if old_comment.id in listed or old_comment.status != VISIBLE or old_comment.created_at < window_start:
                continue
            plan.removed += 1
            gone = replace(old_comment, status=CommentStatus.DELETED)
            plan.upserts.append((gone, stored.content_hash, stored.generation))
            for thread, _mirror in targets_for(old_comment, mirrors, tree):
                plan.jobs.append(_comment_job("delete_comment", old_comment, thread, f"g{stored.generation}"))
    return plan
