"""The SQLite store: one aiosqlite connection, WAL, numbered migrations.

Every method that writes is atomic on its own: it takes the write lock, runs its
statements in one transaction and commits. Multi-table changes that must happen
together (a delivery and its bookkeeping) are single methods here.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from bot.core.mirrors import MirrorSpec, Target
from bot.models import Comment, CommentStatus, Page


@dataclass(frozen=True)
class StoredComment:
    comment: Comment
    content_hash: str
    generation: int


@dataclass(frozen=True)
class Job:
    id: int
    key: str
    lane: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    inflight: bool
    last_error: str | None = None


@dataclass(frozen=True)
class NewJob:
    key: str
    lane: str
    kind: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class MapRow:
    chat: str
    message_ref: str
    channel: str
    thread_ref: str
    part: int
    site: str
    comment_id: int
    origin: str  # "site" or "chat"


@dataclass(frozen=True)
class ThreadKey:
    chat: str
    channel: str
    site: str
    post_id: int
    root_comment_id: int

    @property
    def lane(self) -> str:
        return f"thread:{self.chat}:{self.channel}:{self.site}:{self.post_id}:{self.root_comment_id}"


@dataclass(frozen=True)
class CursorRow:
    site: str
    newest_gmt: str | None
    last_recheck_at: float | None
    last_ok_at: float | None
    failing_since: float | None
    last_error: str | None


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("bot.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


def _comment_from_row(row: aiosqlite.Row) -> StoredComment:
    comment = Comment(
        site=row["site"],
        id=row["comment_id"],
        post_id=row["post_id"],
        parent_id=row["parent_id"],
        author_name=row["author_name"],
        created_at=datetime.fromisoformat(row["created_at"]),
        html=row["html"],
        link=row["link"],
        status=CommentStatus(row["status"]),
        author_url=row["author_url"],
        avatar_url=row["avatar_url"],
        bot_author=bool(row["bot_author"]),
    )
    return StoredComment(comment, row["content_hash"], row["generation"])


def _mirror_from_row(row: aiosqlite.Row) -> MirrorSpec:
    pages = json.loads(row["pages"])
    return MirrorSpec(
        name=row["name"],
        site=row["site"],
        targets=tuple(Target(t["chat"], t["channel"]) for t in json.loads(row["targets"])),
        pages=pages if pages == "all" else tuple(pages),
        url_pattern=row["url_pattern"],
        thread_per=row["thread_per"],
        relay=row["relay"],
        backfill_days=row["backfill_days"],
        origin=row["origin"],
        created_by=row["created_by"],
        paused=bool(row["paused"]),
        backfilled=bool(row["backfilled"]),
    )


def _create_private(path: Path) -> None:
    """Owner-only: the store holds who said what where. SQLite gives its -wal and -shm
    files the database file's permissions."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


class Store:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path) -> Store:
        if str(path) != ":memory:":
            _create_private(Path(path))
        db = await aiosqlite.connect(str(path), isolation_level=None)
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA foreign_keys=ON")
        await db.execute("PRAGMA busy_timeout=5000")
        store = cls(db)
        await store._migrate()
        return store

    async def close(self) -> None:
        await self.db.close()

    async def _migrate(self) -> None:
        async with self.db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        current = int(row[0]) if row else 0
        for version, sql in _migrations():
            if version <= current:
                continue
            async with self.write() as db:
                for statement in sql.split(";\n"):
                    if statement.strip():
                        await db.execute(statement)
                await db.execute(f"PRAGMA user_version={version}")

    async def schema_version(self) -> int:
        async with self.db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    @asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One transaction, serialized with every other writer of this process."""
        async with self._lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
            await self.db.execute("COMMIT")

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        async with self.db.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Row | None:
        async with self.db.execute(sql, params) as cursor:
            return await cursor.fetchone()

    # -- sites and pages -------------------------------------------------------------

    async def save_site(self, name: str, url: str, api_root: str, bot_user_id: int | None) -> None:
        async with self.write() as db:
            await db.execute(
                "INSERT INTO sites (name, url, api_root, bot_user_id) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET url=excluded.url, api_root=excluded.api_root, "
                "bot_user_id=excluded.bot_user_id",
                (name, url, api_root, bot_user_id),
            )

    async def get_site(self, name: str) -> tuple[str | None, int | None]:
        row = await self._one("SELECT api_root, bot_user_id FROM sites WHERE name=?", (name,))
        return (row["api_root"], row["bot_user_id"]) if row else (None, None)

    async def save_page(self, page: Page) -> None:
        async with self.write() as db:
            await db.execute(
                "INSERT INTO pages (site, post_id, url, title, excerpt) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (site, post_id) DO UPDATE SET url=excluded.url, title=excluded.title, "
                "excerpt=excluded.excerpt",
                (page.site, page.id, page.url, page.title, page.excerpt),
            )

    async def get_page(self, site: str, post_id: int) -> Page | None:
        row = await self._one("SELECT * FROM pages WHERE site=? AND post_id=?", (site, post_id))
        if row is None:
            return None
        return Page(site=site, id=post_id, url=row["url"], title=row["title"], excerpt=row["excerpt"])

    async def known_page_ids(self, site: str) -> set[int]:
        rows = await self._all("SELECT post_id FROM pages WHERE site=?", (site,))
        return {r["post_id"] for r in rows}

    # -- comments --------------------------------------------------------------------

    async def get_comment(self, site: str, comment_id: int) -> StoredComment | None:
        row = await self._one("SELECT * FROM comments WHERE site=? AND comment_id=?", (site, comment_id))
        return _comment_from_row(row) if row else None

    async def get_comments(self, site: str, ids: Iterable[int]) -> dict[int, StoredComment]:
        ids = list(ids)
        found: dict[int, StoredComment] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = await self._all(f"SELECT * FROM comments WHERE site=? AND comment_id IN ({marks})", (site, *chunk))
            found.update({r["comment_id"]: _comment_from_row(r) for r in rows})
        return found

    async def comments_since(self, site: str, since_iso: str) -> dict[int, StoredComment]:
        """Comments created at or after a time that we last saw as visible."""
        rows = await self._all(
            "SELECT * FROM comments WHERE site=? AND created_at>=? AND status='approved'", (site, since_iso)
        )
        return {r["comment_id"]: _comment_from_row(r) for r in rows}

    async def page_comments(self, site: str, post_id: int) -> list[Comment]:
        rows = await self._all(
            "SELECT * FROM comments WHERE site=? AND post_id=? AND status='approved' ORDER BY created_at, comment_id",
            (site, post_id),
        )
        return [_comment_from_row(r).comment for r in rows]

    async def site_comments(self, site: str, since_iso: str | None = None) -> list[Comment]:
        rows = await self._all(
            "SELECT * FROM comments WHERE site=? AND status='approved' AND created_at>=? "
            "ORDER BY created_at, comment_id",
            (site, since_iso or ""),
        )
        return [_comment_from_row(r).comment for r in rows]

    # -- mirrors ---------------------------------------------------------------------

    async def mirrors(self) -> list[MirrorSpec]:
        return [_mirror_from_row(r) for r in await self._all("SELECT * FROM mirrors ORDER BY created_at, name")]

    async def get_mirror(self, name: str) -> MirrorSpec | None:
        row = await self._one("SELECT * FROM mirrors WHERE name=?", (name,))
        return _mirror_from_row(row) if row else None

    async def save_mirror(self, mirror: MirrorSpec) -> None:
        """Insert or update; keeps paused/backfilled of an existing row unless the spec changed pages."""
        pages = json.dumps(mirror.pages if mirror.pages == "all" else list(mirror.pages))
        targets = json.dumps([{"chat": t.chat, "channel": t.channel} for t in mirror.targets])
        async with self.write() as db:
            await db.execute(
                "INSERT INTO mirrors (name, site, pages, url_pattern, thread_per, relay, targets, backfill_days, "
                "origin, created_by, paused, backfilled, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (name) DO UPDATE SET site=excluded.site, pages=excluded.pages, "
                "url_pattern=excluded.url_pattern, thread_per=excluded.thread_per, relay=excluded.relay, "
                "targets=excluded.targets, backfill_days=excluded.backfill_days, origin=excluded.origin, "
                "backfilled=CASE WHEN mirrors.pages=excluded.pages AND mirrors.targets=excluded.targets "
                "AND mirrors.site=excluded.site AND mirrors.thread_per=excluded.thread_per "
                "THEN mirrors.backfilled ELSE 0 END",
                (
                    mirror.name,
                    mirror.site,
                    pages,
                    mirror.url_pattern,
                    mirror.thread_per,
                    mirror.relay,
                    targets,
                    mirror.backfill_days,
                    mirror.origin,
                    mirror.created_by,
                    int(mirror.paused),
                    int(mirror.backfilled),
                    time.time(),
                ),
            )

    async def delete_mirror(self, name: str) -> bool:
        async with self.write() as db:
            cursor = await db.execute("DELETE FROM mirrors WHERE name=?", (name,))
            return cursor.rowcount > 0

    async def set_mirror_flag(self, name: str, flag: str, value: bool) -> bool:
        if flag not in ("paused", "backfilled"):
            raise ValueError(flag)
        async with self.write() as db:
            cursor = await db.execute(f"UPDATE mirrors SET {flag}=? WHERE name=?", (int(value), name))
            return cursor.rowcount > 0

    # -- state a chat adapter keeps between runs ------------------------------------------

    async def get_chat_state(self, chat: str, key: str) -> str | None:
        row = await self._one("SELECT value FROM chat_state WHERE chat=? AND key=?", (chat, key))
        return str(row["value"]) if row else None

    async def set_chat_state(self, chat: str, key: str, value: str | None) -> None:
        async with self.write() as db:
            if value is None:
                await db.execute("DELETE FROM chat_state WHERE chat=? AND key=?", (chat, key))
            else:
                await db.execute(
                    "INSERT INTO chat_state (chat, key, value) VALUES (?, ?, ?) "
                    "ON CONFLICT (chat, key) DO UPDATE SET value=excluded.value",
                    (chat, key, value),
                )

    # -- chat threads and the message map ----------------------------------------------

    async def get_thread(self, key: ThreadKey) -> str | None:
        row = await self._one(
            "SELECT thread_ref FROM chat_threads WHERE chat=? AND channel=? AND site=? AND post_id=? "
            "AND root_comment_id=?",
            (key.chat, key.channel, key.site, key.post_id, key.root_comment_id),
        )
        return row["thread_ref"] if row else None

    async def find_thread(self, chat: str, thread_ref: str) -> ThreadKey | None:
        row = await self._one("SELECT * FROM chat_threads WHERE chat=? AND thread_ref=?", (chat, thread_ref))
        if row is None:
            return None
        return ThreadKey(row["chat"], row["channel"], row["site"], row["post_id"], row["root_comment_id"])

    async def threads(self) -> list[tuple[ThreadKey, str]]:
        rows = await self._all("SELECT * FROM chat_threads ORDER BY rowid")
        return [
            (
                ThreadKey(r["chat"], r["channel"], r["site"], r["post_id"], r["root_comment_id"]),
                r["thread_ref"],
            )
            for r in rows
        ]

    async def message_parts(self, site: str, comment_id: int, chat: str, channel: str) -> list[MapRow]:
        rows = await self._all(
            "SELECT * FROM message_map WHERE site=? AND comment_id=? AND chat=? AND channel=? ORDER BY part",
            (site, comment_id, chat, channel),
        )
        return [MapRow(**dict(r)) for r in rows]

    async def lookup_message(self, chat: str, message_ref: str) -> MapRow | None:
        row = await self._one("SELECT * FROM message_map WHERE chat=? AND message_ref=?", (chat, message_ref))
        return MapRow(**dict(row)) if row else None

    async def mapped_targets(self, site: str, comment_ids: Iterable[int]) -> set[tuple[int, str, str]]:
        """(comment id, chat, channel) for every comment that already has a chat message."""
        ids = list(comment_ids)
        found: set[tuple[int, str, str]] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = await self._all(
                f"SELECT DISTINCT comment_id, chat, channel FROM message_map WHERE site=? AND comment_id IN ({marks})",
                (site, *chunk),
            )
            found.update((r["comment_id"], r["chat"], r["channel"]) for r in rows)
        return found

    # -- polling: comments, cursor and new jobs in one transaction ----------------------

    async def apply_poll(
        self,
        site: str,
        upserts: Sequence[tuple[Comment, str, int]],
        jobs: Sequence[NewJob],
        newest_gmt: str | None,
        rechecked: bool,
    ) -> int:
        """Record what a poll saw and the deliveries it planned; returns how many jobs are new."""
        now = time.time()
        async with self.write() as db:
            await db.executemany(
                "INSERT INTO comments (site, comment_id, post_id, parent_id, author_name, author_url, avatar_url, "
                "created_at, link, html, content_hash, status, generation, bot_author) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (site, comment_id) DO UPDATE SET "
                "post_id=excluded.post_id, parent_id=excluded.parent_id, author_name=excluded.author_name, "
                "author_url=excluded.author_url, avatar_url=excluded.avatar_url, created_at=excluded.created_at, "
                "link=excluded.link, html=excluded.html, content_hash=excluded.content_hash, "
                "status=excluded.status, generation=excluded.generation, bot_author=excluded.bot_author",
                [
                    (
                        site,
                        c.id,
                        c.post_id,
                        c.parent_id,
                        c.author_name,
                        c.author_url,
                        c.avatar_url,
                        c.created_at.isoformat(),
                        c.link,
                        c.html,
                        content_hash,
                        c.status.value,
                        generation,
                        int(c.bot_author),
                    )
                    for c, content_hash, generation in upserts
                ],
            )
            added = await self._insert_jobs(db, jobs, now)
            await db.execute(
                "INSERT INTO cursors (site, newest_gmt, last_recheck_at, last_ok_at, failing_since, last_error) "
                "VALUES (?, ?, ?, ?, NULL, NULL) ON CONFLICT (site) DO UPDATE SET "
                "newest_gmt=NULLIF(MAX(COALESCE(excluded.newest_gmt, ''), COALESCE(cursors.newest_gmt, '')), ''), "
                "last_recheck_at=COALESCE(excluded.last_recheck_at, cursors.last_recheck_at), "
                "last_ok_at=excluded.last_ok_at, failing_since=NULL, last_error=NULL",
                (site, newest_gmt, now if rechecked else None, now),
            )
        return added

    async def enqueue(self, jobs: Sequence[NewJob]) -> int:
        async with self.write() as db:
            return await self._insert_jobs(db, jobs, time.time())

    @staticmethod
    async def _insert_jobs(db: aiosqlite.Connection, jobs: Sequence[NewJob], now: float) -> int:
        before = db.total_changes
        await db.executemany(
            "INSERT OR IGNORE INTO outbox (key, lane, kind, payload, created_at, updated_at) VALUES (?,?,?,?,?,?)",
            [(j.key, j.lane, j.kind, json.dumps(j.payload), now, now) for j in jobs],
        )
        return db.total_changes - before

    async def open_job_lane(self, key: str) -> str | None:
        """The lane of the pending job with this key, if there is one."""
        row = await self._one("SELECT lane FROM outbox WHERE key=? AND state='pending'", (key,))
        return str(row["lane"]) if row else None

    async def unresolved_relays(self, site: str) -> int:
        """Relays to this site that may have reached it without being recorded."""
        row = await self._one(
            "SELECT COUNT(*) AS n FROM outbox WHERE kind='relay' AND state='pending' AND inflight=1 "
            "AND json_extract(payload, '$.site')=?",
            (site,),
        )
        return int(row["n"]) if row else 0

    async def get_cursor(self, site: str) -> CursorRow | None:
        row = await self._one("SELECT * FROM cursors WHERE site=?", (site,))
        return CursorRow(**dict(row)) if row else None

    async def record_poll_failure(self, site: str, error: str) -> None:
        now = time.time()
        async with self.write() as db:
            await db.execute(
                "INSERT INTO cursors (site, failing_since, last_error) VALUES (?, ?, ?) "
                "ON CONFLICT (site) DO UPDATE SET "
                "failing_since=COALESCE(cursors.failing_since, excluded.failing_since), last_error=excluded.last_error",
                (site, now, error),
            )

    # -- the outbox ------------------------------------------------------------------

    async def next_jobs(self, now: float, busy_lanes: set[str], limit: int) -> list[Job]:
        """The oldest open job of each idle lane that is due."""
        rows = await self._all(
            "SELECT o.* FROM outbox o JOIN (SELECT lane, MIN(id) AS id FROM outbox WHERE state='pending' "
            "GROUP BY lane) head ON o.id = head.id WHERE o.next_attempt_at <= ? ORDER BY o.id LIMIT ?",
            (now, limit + len(busy_lanes)),
        )
        jobs = [
            Job(
                r["id"],
                r["key"],
                r["lane"],
                r["kind"],
                json.loads(r["payload"]),
                r["attempts"],
                bool(r["inflight"]),
                r["last_error"],
            )
            for r in rows
            if r["lane"] not in busy_lanes
        ]
        return jobs[:limit]

    async def next_due_time(self, after: float = 0.0) -> float | None:
        """When the earliest lane head waiting for a retry falls due (later than `after`)."""
        row = await self._one(
            "SELECT MIN(o.next_attempt_at) AS t FROM outbox o JOIN (SELECT MIN(id) AS id FROM outbox "
            "WHERE state='pending' GROUP BY lane) head ON o.id = head.id WHERE o.next_attempt_at > ?",
            (after,),
        )
        return float(row["t"]) if row and row["t"] is not None else None

    async def start_attempt(self, job_id: int) -> None:
        """Mark a job as possibly delivered before touching the peer."""
        async with self.write() as db:
            await db.execute(
                "UPDATE outbox SET inflight=1, attempts=attempts+1, updated_at=? WHERE id=?",
                (time.time(), job_id),
            )

    async def finish_job(
        self,
        job_id: int,
        add_map: Sequence[MapRow] = (),
        remove_map: Sequence[tuple[str, str]] = (),
        thread: tuple[ThreadKey, str] | None = None,
    ) -> None:
        """Mark a job done together with the bookkeeping its delivery implies."""
        async with self.write() as db:
            if thread is not None:
                key, ref = thread
                await db.execute(
                    "INSERT OR REPLACE INTO chat_threads (chat, channel, site, post_id, root_comment_id, thread_ref) "
                    "VALUES (?,?,?,?,?,?)",
                    (key.chat, key.channel, key.site, key.post_id, key.root_comment_id, ref),
                )
            await db.executemany(
                "DELETE FROM message_map WHERE chat=? AND message_ref=?", [tuple(r) for r in remove_map]
            )
            await db.executemany(
                "INSERT OR REPLACE INTO message_map (chat, message_ref, channel, thread_ref, part, site, "
                "comment_id, origin) VALUES (?,?,?,?,?,?,?,?)",
                [
                    (m.chat, m.message_ref, m.channel, m.thread_ref, m.part, m.site, m.comment_id, m.origin)
                    for m in add_map
                ],
            )
            await db.execute(
                "UPDATE outbox SET state='done', inflight=0, last_error=NULL, updated_at=? WHERE id=?",
                (time.time(), job_id),
            )

    async def retry_job(self, job_id: int, delay: float, error: str, still_inflight: bool) -> None:
        async with self.write() as db:
            await db.execute(
                "UPDATE outbox SET next_attempt_at=?, last_error=?, inflight=?, updated_at=? WHERE id=?",
                (time.time() + delay, error, int(still_inflight), time.time(), job_id),
            )

    async def fail_job(self, job_id: int, error: str) -> None:
        async with self.write() as db:
            await db.execute(
                "UPDATE outbox SET state='failed', inflight=0, last_error=?, updated_at=? WHERE id=?",
                (error, time.time(), job_id),
            )

    async def outbox_stats(self) -> dict[str, Any]:
        row = await self._one(
            "SELECT SUM(state='pending') AS pending, SUM(state='failed') AS failed, "
            "MIN(CASE WHEN state='pending' THEN created_at END) AS oldest FROM outbox"
        )
        assert row is not None
        return {"pending": row["pending"] or 0, "failed": row["failed"] or 0, "oldest_pending": row["oldest"]}

    async def failing_jobs(self, limit: int = 5) -> list[tuple[str, str, int, str]]:
        """(kind, lane, attempts, error) of failed jobs and pending ones that have failed before."""
        rows = await self._all(
            "SELECT kind, lane, attempts, last_error FROM outbox WHERE last_error IS NOT NULL "
            "AND state != 'done' ORDER BY updated_at DESC LIMIT ?",
            (limit,),
        )
        return [(r["kind"], r["lane"], r["attempts"], r["last_error"]) for r in rows]
