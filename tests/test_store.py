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
