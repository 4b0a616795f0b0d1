"""`summarize`: a summary of the mirrored thread the command was given in. Anyone may ask.

Adapters call it through `run_command(host, call)` with `call.name == "summarize"` and
`call.thread_ref` set to the chat thread (Discord `/summarize`, Matrix `!summarize`, the terminal's
`summarize <thread>`). Arguments:

- `length`: `short` (default: 3 points, 1 disagreement) or `long` (up to 5 points, 2 disagreements);
- `public`: `yes` to post the summary for everyone instead of to the asker only. Only admins may:
  after `run_command`, `call.args["public"]` is `"yes"` exactly when the answer may be posted
  publicly (see `wants_public`), so an adapter only reads that back.

A summary covers the thread's site comments: the whole page, or for a thread per top-level comment
that comment and its replies. Chat-only messages (written in the chat thread and not relayed to the
site) belong in it too, but the store does not keep them yet: `chat_only_items` is where they join
once it does (as `bot.summarize.chat_item`s).
"""

from __future__ import annotations

import weakref

from bot.commands.mirror import CommandError, CommandHost
from bot.config import Config, SummarizeSettings
from bot.models import CommandCall
from bot.store.db import ThreadKey
from bot.summarize import RateLimited, Summarizer, ThreadItem, thread_from_comments
from bot.summarize.render import units

_YES = ("yes", "true", "1", "on", "public")
_NO = ("no", "false", "0", "off", "private", "")

_summarizers: weakref.WeakKeyDictionary[object, Summarizer] = weakref.WeakKeyDictionary()


def summarizer_for(host: CommandHost) -> Summarizer:
    """One summarizer (cache, rate limits, LLM client) per running bot, made on first use."""
    summarizer = _summarizers.get(host)
    if summarizer is None:
        config = getattr(host, "config", None)
        settings = config.summarize if isinstance(config, Config) else SummarizeSettings()
        summarizer = _summarizers[host] = Summarizer(settings)
    return summarizer


def wants_public(call: CommandCall) -> bool:
    """Whether the answer may be posted for everyone (an admin asked with public=yes)."""
    return call.args.get("public") == "yes"


async def chat_only_items(host: CommandHost, key: ThreadKey, thread_ref: str) -> list[ThreadItem]:
    """Messages written only in this chat thread. None yet: the store keeps only what reached the site."""
    return []


async def summarize(host: CommandHost, call: CommandCall) -> str:
    length = call.args.get("length", "short").strip().lower() or "short"
    if length not in ("short", "long"):
        raise CommandError(f"length must be short or long (got {length!r})")
    public = call.args.get("public", "").strip().lower()
    if public not in _YES + _NO:
        raise CommandError(f"public must be yes or no (got {public!r})")
    note = ""
    if public in _YES and not call.is_admin:
        note = "\n(Only admins can post a summary for everyone, so this one is just for you.)"
    call.args["public"] = "yes" if public in _YES and call.is_admin else "no"
    if not call.thread_ref:
        raise CommandError("ask in a mirrored thread: a summary is of the thread it is asked in")
    key = await host.store.find_thread(call.chat, call.thread_ref)
    if key is None:
        raise CommandError("this is not a mirrored thread, so there is nothing to summarize here")
    page = await host.store.get_page(key.site, key.post_id)
    comments = await host.store.page_comments(key.site, key.post_id)
    extra = await chat_only_items(host, key, call.thread_ref)
    thread = thread_from_comments(page, comments, key.root_comment_id, extra)
    summarizer = summarizer_for(host)
    try:
        result = await summarizer.summarize(
            thread,
            "long" if length == "long" else "short",
            user=f"{call.chat}:{call.user_id}",
            limit=summarizer.limit - units(note),
        )
    except RateLimited as exc:
        raise CommandError(str(exc)) from None
    return result.text + note
