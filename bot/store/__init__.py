"""Durable state in SQLite."""

from bot.store.db import CursorRow, Job, MapRow, NewJob, Store, StoredComment, ThreadKey

__all__ = ["CursorRow", "Job", "MapRow", "NewJob", "Store", "StoredComment", "ThreadKey"]
