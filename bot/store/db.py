"""The SQLite store: WAL, numbered migrations.

Every method that writes is atomic on its own: it takes the write lock, runs its
statements in one transaction and commits. Multi-table changes that must happen
together (a delivery and its bookkeeping) are single methods here.

Small reads and the writes run at once on the event loop's thread, through two plain sqlite3
connections (a read-only one and the writer); reads that may return thousands of rows, WAL
checkpoints (the only fsyncs) and writes that must wait for another process's lock go to
aiosqlite's thread. A trip to that thread costs 50-500 µs of hand-over, and the one thread serves
every query in turn; an indexed lookup or a small WAL commit takes 10-100 µs here.

Why `synchronous=NORMAL` is safe with WAL: a commit is in the WAL (the OS has it) before it
returns, so a crash of the bot loses nothing; a power cut may lose the last commits since the
last checkpoint, never the database. Lost commits only roll deliveries back to "pending" or "in
flight" and comments back to unseen: the next attempt reuses the same idempotency key (the chat
recognises it; a relay looks for its comment first) and the next poll lists the comments again,
so nothing is lost or doubled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

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


log = logging.getLogger(__name__)

CHECKPOINT_EVERY = 200  # commits of the writer between two WAL checkpoints (on aiosqlite's thread)


def _open_reader(path: Path) -> sqlite3.Connection:
    reader = sqlite3.connect(path, isolation_level=None)  # autocommit: no read transaction is left open
    reader.row_factory = sqlite3.Row
    reader.execute("PRAGMA query_only=ON")
    reader.execute("PRAGMA busy_timeout=5000")
    return reader


def _open_writer(path: Path) -> sqlite3.Connection:
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("PRAGMA synchronous=NORMAL")
    writer.execute("PRAGMA foreign_keys=ON")
    writer.execute("PRAGMA busy_timeout=0")  # never wait on the event loop: see Store.write()
    writer.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints fsync: Store._checkpoint runs them elsewhere
    return writer


def _busy(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class Transaction(Protocol):
    """What `Store.write()` yields: the writer connection or, while another process holds the
    write lock, aiosqlite's."""

    @property
    def total_changes(self) -> int: ...

    async def execute(self, sql: str, parameters: Sequence[Any] = ...) -> Any: ...

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> Any: ...


class _Now:
    """The writer connection as a Transaction: each statement runs at once, on this thread."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    @property
    def total_changes(self) -> int:
        return self.conn.total_changes

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, parameters)

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> sqlite3.Cursor:
        return self.conn.executemany(sql, parameters)


def _create_private(path: Path) -> None:
    """Owner-only: the store holds who said what where. SQLite gives its -wal and -shm
    files the database file's permissions."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


class Store:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db
        self._reader: sqlite3.Connection | None = None  # see _all()
        self._writer: sqlite3.Connection | None = None  # see write()
        self._commits = 0
        self._checkpoint_task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._mirrors: tuple[tuple[int, int], list[MirrorSpec]] | None = None  # (stamp, mirrors): see mirrors()
        self._mirror_changes = 0  # bumped after each commit that changed the mirrors table

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
        if str(path) != ":memory:":  # (an in-memory database is one connection's own)
            store._writer = _open_writer(Path(path))
            store._reader = _open_reader(Path(path))
        await store._migrate()
        return store

    async def close(self) -> None:
        if self._checkpoint_task is not None:
            await asyncio.gather(self._checkpoint_task, return_exceptions=True)
        for conn in (self._reader, self._writer):
            if conn is not None:
                conn.close()
        self._reader = self._writer = None
        await self.db.close()  # the last connection to close checkpoints the WAL

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
    async def write(self) -> AsyncIterator[Transaction]:
        """One transaction, serialized with every other writer of this process.

        It runs on the writer connection, at once. If another process holds the database's write
        lock, it waits for it (busy_timeout) on aiosqlite's thread instead, so the event loop
        never stalls on a lock."""
        async with self._lock:
            tx = self._begin_now()
            if tx is None:
                await self.db.execute("BEGIN IMMEDIATE")
                tx = self.db
            try:
                yield tx
                await tx.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):  # (no transaction is left open, whatever failed)
                    await tx.execute("ROLLBACK")
                raise
            if tx is not self.db:
                self._committed()

    def _begin_now(self) -> Transaction | None:
        if self._writer is None:
            return None
        try:
            self._writer.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
            return None
        return _Now(self._writer)

    def _committed(self) -> None:
        self._commits += 1
        if self._commits % CHECKPOINT_EVERY == 0 and (self._checkpoint_task is None or self._checkpoint_task.done()):
            self._checkpoint_task = asyncio.get_running_loop().create_task(self._checkpoint())

    async def _checkpoint(self) -> None:
        """Copy the WAL into the database (and fsync), away from the event loop; PASSIVE never
        waits for, nor blocks, the writer or the readers."""
        try:
            await self.db.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:
            log.warning("WAL checkpoint failed (the next one retries): %s", exc)

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        """A small indexed read, answered at once by a second, read-only connection on this thread.

        Every trip to aiosqlite's thread costs 50-500 µs of hand-over (more when the CPUs are busy),
        and one thread serves every query of the process in turn; a lookup by key takes 10-50 µs
        here. WAL lets this connection read while the other writes, and it sees every committed
        transaction (never the open one of a writer). Reads that may return thousands of rows
        use `_scan`, which keeps them off the event loop.
        """
        if self._reader is None:
            return await self._scan(sql, params)
        return self._reader.execute(sql, params).fetchall()

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Row | None:
        rows = await self._all(sql, params)
        return rows[0] if rows else None

    async def _scan(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        """A read on aiosqlite's thread, in one trip (a cursor's execute, fetch and close are three)."""
        return list(await self.db.execute_fetchall(sql, params))

    async def _write_one(self, sql: str, params: Sequence[Any] = ()) -> int:
        """A write of one statement; returns its rowcount."""
        async with self.write() as tx:
            cursor = await tx.execute(sql, params)
            return int(cursor.rowcount)

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
        await self._write_one(
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
        rows = await self._scan("SELECT post_id FROM pages WHERE site=?", (site,))
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
        rows = await self._scan(
            "SELECT * FROM comments WHERE site=? AND created_at>=? AND status='approved'", (site, since_iso)
        )
        return {r["comment_id"]: _comment_from_row(r) for r in rows}

    async def page_comments(self, site: str, post_id: int) -> list[Comment]:
        rows = await self._scan(
            "SELECT * FROM comments WHERE site=? AND post_id=? AND status='approved' ORDER BY created_at, comment_id",
            (site, post_id),
        )
        return [_comment_from_row(r).comment for r in rows]

    async def site_comments(self, site: str, since_iso: str | None = None) -> list[Comment]:
        rows = await self._scan(
            "SELECT * FROM comments WHERE site=? AND status='approved' AND created_at>=? "
            "ORDER BY created_at, comment_id",
            (site, since_iso or ""),
        )
        return [_comment_from_row(r).comment for r in rows]

    # -- mirrors ---------------------------------------------------------------------

    async def mirrors(self) -> list[MirrorSpec]:
        """Every mirror, oldest first. Kept in memory (every poll and chat message asks, and a
        thousand mirrors take milliseconds to decode): reloaded after this store changes them, or
        when another connection has committed anything (PRAGMA data_version)."""
        # The writer's data_version changes with what other connections (other processes) commit.
        version = self._writer.execute("PRAGMA data_version").fetchall() if self._writer else []
        stamp = (int(version[0][0]) if version else 0, self._mirror_changes)  # taken before reading: a change after it
        if self._mirrors is None or self._mirrors[0] != stamp:  # leaves the stamp stale, so it reloads
            rows = await self._scan("SELECT * FROM mirrors ORDER BY created_at, name")
            self._mirrors = (stamp, [_mirror_from_row(r) for r in rows])
        return list(self._mirrors[1])

    async def get_mirror(self, name: str) -> MirrorSpec | None:
        row = await self._one("SELECT * FROM mirrors WHERE name=?", (name,))
        return _mirror_from_row(row) if row else None

    async def save_mirror(self, mirror: MirrorSpec) -> None:
        """Insert or update; keeps paused/backfilled of an existing row unless the spec changed pages."""
        await self.save_mirrors([mirror])

    async def save_mirrors(self, mirrors: Sequence[MirrorSpec]) -> None:
        """`save_mirror` for many, in one transaction (the config's mirrors at start)."""
        now = time.time()
        rows = [
            (
                mirror.name,
                mirror.site,
                json.dumps(mirror.pages if mirror.pages == "all" else list(mirror.pages)),
                mirror.url_pattern,
                mirror.thread_per,
                mirror.relay,
                json.dumps([{"chat": t.chat, "channel": t.channel} for t in mirror.targets]),
                mirror.backfill_days,
                mirror.origin,
                mirror.created_by,
                int(mirror.paused),
                int(mirror.backfilled),
                now + index * 1e-6,  # they list in the order given
            )
            for index, mirror in enumerate(mirrors)
        ]
        try:
            async with self.write() as db:
                await db.executemany(
                    "INSERT INTO mirrors (name, site, pages, url_pattern, thread_per, relay, targets, backfill_days, "
                    "origin, created_by, paused, backfilled, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
                    "ON CONFLICT (name) DO UPDATE SET site=excluded.site, pages=excluded.pages, "
                    "url_pattern=excluded.url_pattern, thread_per=excluded.thread_per, relay=excluded.relay, "
                    "targets=excluded.targets, backfill_days=excluded.backfill_days, origin=excluded.origin, "
                    "backfilled=CASE WHEN mirrors.pages=excluded.pages AND mirrors.targets=excluded.targets "
                    "AND mirrors.site=excluded.site AND mirrors.thread_per=excluded.thread_per "
                    "THEN mirrors.backfilled ELSE 0 END",
                    rows,
                )
        finally:
            self._mirror_changes += 1

    async def delete_mirror(self, name: str) -> bool:
        try:
            return await self._write_one("DELETE FROM mirrors WHERE name=?", (name,)) > 0
        finally:
            self._mirror_changes += 1

    async def set_mirror_flag(self, name: str, flag: str, value: bool) -> bool:
        if flag not in ("paused", "backfilled"):
            raise ValueError(flag)
        try:
            return await self._write_one(f"UPDATE mirrors SET {flag}=? WHERE name=?", (int(value), name)) > 0
        finally:
            self._mirror_changes += 1

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
        rows = await self._scan("SELECT * FROM chat_threads ORDER BY rowid")
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
        touch_cursor: bool = True,
    ) -> int:
        """Record what a poll saw and the deliveries it planned; returns how many jobs are new.

        A push notification's fetch passes `touch_cursor=False`: the cursor tracks the polls alone.
        """
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
            if not touch_cursor:
                return added
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
    async def _insert_jobs(db: Transaction, jobs: Sequence[NewJob], now: float) -> int:
        before = db.total_changes
        await db.executemany(
            "INSERT OR IGNORE INTO outbox (key, lane, kind, payload, created_at, updated_at) VALUES (?,?,?,?,?,?)",
            [(j.key, j.lane, j.kind, json.dumps(j.payload), now, now) for j in jobs],
        )
        return db.total_changes - before

    async def prune_done_jobs(self, older_than: float) -> int:
        """Forget jobs done more than `older_than` seconds ago. Their keys no longer guard against a
        repeat, but the message map does: nothing is sent where it already has a message."""
        async with self.write() as db:
            cursor = await db.execute(
                "DELETE FROM outbox WHERE state='done' AND updated_at < ?", (time.time() - older_than,)
            )
            return int(cursor.rowcount)

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
        """The oldest open job of each idle lane that is due; relays first, so a person's reply does
        not wait behind a large backfill."""
        rows = await self._all(
            "SELECT o.* FROM outbox o JOIN (SELECT lane, MIN(id) AS id FROM outbox WHERE state='pending' "
            "GROUP BY lane) head ON o.id = head.id WHERE o.next_attempt_at <= ? "
            "ORDER BY o.lane LIKE 'relay:%' DESC, o.id LIMIT ?",
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
        await self._write_one(
            "UPDATE outbox SET inflight=1, attempts=attempts+1, updated_at=? WHERE id=?", (time.time(), job_id)
        )

    async def finish_job(
        self,
        job_id: int,
        add_map: Sequence[MapRow] = (),
        remove_map: Sequence[tuple[str, str]] = (),
        thread: tuple[ThreadKey, str] | None = None,
    ) -> None:
        """Mark a job done together with the bookkeeping its delivery implies."""
        done = "UPDATE outbox SET state='done', inflight=0, last_error=NULL, updated_at=? WHERE id=?"
        if not add_map and not remove_map and thread is None:
            await self._write_one(done, (time.time(), job_id))
            return
        async with self.write() as db:
            if thread is not None:
                key, ref = thread
                await db.execute(
                    "INSERT OR REPLACE INTO chat_threads (chat, channel, site, post_id, root_comment_id, thread_ref) "
                    "VALUES (?,?,?,?,?,?)",
                    (key.chat, key.channel, key.site, key.post_id, key.root_comment_id, ref),
                )
            if remove_map:
                await db.executemany(
                    "DELETE FROM message_map WHERE chat=? AND message_ref=?", [tuple(r) for r in remove_map]
                )
            if add_map:
                await db.executemany(
                    "INSERT OR REPLACE INTO message_map (chat, message_ref, channel, thread_ref, part, site, "
                    "comment_id, origin) VALUES (?,?,?,?,?,?,?,?)",
                    [
                        (m.chat, m.message_ref, m.channel, m.thread_ref, m.part, m.site, m.comment_id, m.origin)
                        for m in add_map
                    ],
                )
            await db.execute(done, (time.time(), job_id))

    async def retry_job(self, job_id: int, delay: float, error: str, still_inflight: bool) -> None:
        await self._write_one(
            "UPDATE outbox SET next_attempt_at=?, last_error=?, inflight=?, updated_at=? WHERE id=?",
            (time.time() + delay, error, int(still_inflight), time.time(), job_id),
        )

    async def fail_job(self, job_id: int, error: str) -> None:
        await self._write_one(
            "UPDATE outbox SET state='failed', inflight=0, last_error=?, updated_at=? WHERE id=?",
            (error, time.time(), job_id),
        )

    async def outbox_stats(self) -> dict[str, Any]:
        [row] = await self._scan(  # reads every job ever queued
            "SELECT SUM(state='pending') AS pending, SUM(state='failed') AS failed, "
            "MIN(CASE WHEN state='pending' THEN created_at END) AS oldest FROM outbox"
        )
        return {"pending": row["pending"] or 0, "failed": row["failed"] or 0, "oldest_pending": row["oldest"]}

    async def failing_jobs(self, limit: int = 5) -> list[tuple[str, str, int, str, float]]:
        """(kind, lane, attempts, error, created_at) of failed jobs and pending ones that have failed
        before: the job waiting longest first, since that is how long its peer has been failing."""
        rows = await self._scan(
            "SELECT kind, lane, attempts, last_error, created_at FROM outbox WHERE last_error IS NOT NULL "
            "AND state != 'done' ORDER BY created_at LIMIT ?",
            (limit,),
        )
        return [(r["kind"], r["lane"], r["attempts"], r["last_error"], r["created_at"]) for r in rows]
