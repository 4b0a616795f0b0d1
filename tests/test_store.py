"""The SQLite store: migrations, permissions, and the poll transaction."""

import stat
from datetime import UTC, datetime
from pathlib import Path

from bot.models import Comment
from bot.store import NewJob, Store


async def test_a_new_store_is_migrated_and_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "bot.db"
    store = await Store.open(path)
    assert await store.schema_version() >= 2
    await store.set_chat_state("matrix", "since", "s123")
    await store.close()
    for file in path.parent.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) & 0o077 == 0, file
    store = await Store.open(path)  # reopening runs no migration twice
    assert await store.get_chat_state("matrix", "since") == "s123"
    await store.close()


async def test_a_poll_records_comments_jobs_and_cursor_together(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.db")
    when = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    comment = Comment("blog", 5, 4, 0, "Ann", when, "<p>x</p>", "http://b/p/#comment-5")
    job = NewJob("post:x", "lane", "post_comment", {"comment_id": 5})
    assert await store.apply_poll("blog", [(comment, "hash", 0)], [job], when.isoformat(), rechecked=True) == 1
    assert await store.apply_poll("blog", [], [job], None, rechecked=False) == 0
    cursor = await store.get_cursor("blog")
    assert cursor is not None and cursor.newest_gmt == when.isoformat() and cursor.last_recheck_at
    stored = await store.get_comment("blog", 5)
    assert stored is not None and stored.comment == comment
    await store.close()


async def test_mirrors_are_cached_and_reloaded_after_any_change(tmp_path: Path) -> None:
    from bot.core.mirrors import MirrorSpec, Target

    path = tmp_path / "bot.db"
    store = await Store.open(path)
    specs = [MirrorSpec(f"m{i}", "blog", (Target("terminal", f"c{i}"),), pages=(i,)) for i in (3, 1, 2)]
    await store.save_mirrors(specs)
    assert [m.name for m in await store.mirrors()] == ["m3", "m1", "m2"]  # in the order saved
    assert await store.mirrors() == specs
    await store.set_mirror_flag("m1", "paused", True)
    assert [m.paused for m in await store.mirrors()] == [False, True, False]
    await store.delete_mirror("m3")
    await store.save_mirror(MirrorSpec("m4", "blog", (Target("terminal", "c4"),)))
    assert [m.name for m in await store.mirrors()] == ["m1", "m2", "m4"]
    other = await Store.open(path)  # another process (e.g. `thread-mirror backfill`) changes them
    await other.set_mirror_flag("m2", "backfilled", True)
    await other.close()
    assert [m.backfilled for m in await store.mirrors()] == [False, True, False]
    mirrors = await store.mirrors()
    mirrors.clear()  # a caller's list is its own
    assert len(await store.mirrors()) == 3
    await store.close()


async def test_a_write_waits_for_another_process_lock_without_stalling_the_loop(tmp_path: Path) -> None:
    import asyncio
    import sqlite3
    import time

    import bot.store.db as db_module

    path = tmp_path / "bot.db"
    store = await Store.open(path)
    other = sqlite3.connect(path, isolation_level=None)  # e.g. an admin's sqlite3 shell
    other.execute("BEGIN IMMEDIATE")
    write = asyncio.create_task(store.set_chat_state("matrix", "since", "s1"))
    began = time.monotonic()
    await asyncio.sleep(0.3)  # the loop runs meanwhile: the write waits on aiosqlite's thread
    assert time.monotonic() - began < 1.0 and not write.done()
    other.execute("COMMIT")
    await asyncio.wait_for(write, 5)
    assert await store.get_chat_state("matrix", "since") == "s1"
    other.close()
    db_module.CHECKPOINT_EVERY, every = 1, db_module.CHECKPOINT_EVERY
    try:  # the WAL is checkpointed in the background, away from the loop
        await store.set_chat_state("matrix", "since", "s2")
        assert store._checkpoint_task is not None
        await store._checkpoint_task
    finally:
        db_module.CHECKPOINT_EVERY = every
    assert await store.get_chat_state("matrix", "since") == "s2"
    await store.close()
    reopened = await Store.open(path)
    assert await reopened.get_chat_state("matrix", "since") == "s2"
    await reopened.close()


async def test_delivered_jobs_are_pruned_after_a_while_and_open_ones_never(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "prune.db")
    await store.enqueue([NewJob(f"k{n}", "lane", "h", {}) for n in range(3)])
    first, *_ = await store.next_jobs(0, set(), 1)
    await store.finish_job(first.id)
    assert await store.prune_done_jobs(older_than=3600) == 0  # delivered just now: kept
    assert await store.prune_done_jobs(older_than=-1) == 1  # "older than the future": the done one goes
    assert (await store.outbox_stats())["pending"] == 2
    await store.close()
