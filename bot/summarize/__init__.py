"""Thread summaries for `/summarize`: an offline extractive summary, optionally worded by an LLM.

Importing this package is cheap: scikit-learn and numpy load on the first summary, not before.

    thread = thread_from_comments(page, comments)        # or Thread(title, url, items) with chat items
    digest = build_digest(thread, "short")                # pure and deterministic
    text = render_digest(digest, "offline summary")       # one chat message, ≤ 2,000 characters

`Summarizer` adds the cache, the per-user rate limit and the LLM path with its offline fallback.
"""

from bot.ratelimit import RateLimited
from bot.summarize.extractive import Digest, build_digest
from bot.summarize.render import render_digest
from bot.summarize.service import Summarizer, Summary
from bot.summarize.thread import Thread, ThreadItem, chat_item, comment_item, thread_from_comments

__all__ = [
    "Digest",
    "RateLimited",
    "Summarizer",
    "Summary",
    "Thread",
    "ThreadItem",
    "build_digest",
    "chat_item",
    "comment_item",
    "render_digest",
    "thread_from_comments",
]
