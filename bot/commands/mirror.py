"""`mirror add|remove|list|pause|resume|status`: platform-neutral admin commands.

Each chat adapter parses its own idiom (a slash command, `!mirror ...`, a terminal line)
into a `CommandCall`; these handlers check permission, act on the store and return the
answer text.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.core.mirrors import MirrorSpec, Target, normalize_url
from bot.models import CommandCall
from bot.sources.guard import BlockedAddress
from bot.store import Store


class CommandHost(Protocol):
    """What the commands need from the running bot."""

    store: Store

    def site_for_url(self, url: str) -> str | None: ...

    async def check_url(self, url: str) -> None:
        """Raise BlockedAddress for a URL the bot must not fetch (another scheme, an internal address)."""

    def site_url(self, site: str) -> str: ...

    def chat_names(self) -> list[str]: ...

    def mirrors_changed(self, site: str) -> None: ...

    async def status_lines(self, mirror: MirrorSpec | None) -> list[str]: ...


class CommandError(Exception):
    """A refusal, worded for the person who typed the command."""


MirrorCommand = Callable[[CommandHost, CommandCall], Awaitable[str]]

HELP = """Mirror commands (admins only):
  mirror add <page or site URL> [channel=...] [mode=page|comment] [relay=off|approved|pending] [name=...]
  mirror remove <name>       mirror pause <name>       mirror resume <name>
  mirror list                mirror status [name]
For everyone, in a mirrored thread:
  summarize [short|long]     a summary of the thread (admins: public=yes to post it for everyone)"""


def _required(call: CommandCall, key: str) -> str:
    value = call.args.get(key, "").strip()
    if not value:
        raise CommandError(f"`{call.name}` needs {key}; try: {call.name} <{key}>")
    return value


def _choice(call: CommandCall, key: str, allowed: tuple[str, ...], default: str) -> str:
    value = call.args.get(key, default).strip().lower() or default
    if value not in allowed:
        raise CommandError(f"{key} must be one of {', '.join(allowed)} (got {value!r})")
    return value


async def _existing(host: CommandHost, name: str) -> MirrorSpec:
    mirror = await host.store.get_mirror(name)
    if mirror is None:
        names = ", ".join(m.name for m in await host.store.mirrors()) or "none yet"
        raise CommandError(f"no mirror named {name!r} (mirrors: {names})")
    return mirror


def _unique_name(base: str, taken: set[str]) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")[:40] or "mirror"
    name, n = slug, 2
    while name in taken:
        name, n = f"{slug}-{n}", n + 1
    return name


async def mirror_add(host: CommandHost, call: CommandCall) -> str:
    url = _required(call, "url")
    try:
        await host.check_url(url)
    except BlockedAddress as refused:
        raise CommandError(f"Refused: {refused}") from None
    site = host.site_for_url(url)
    if site is None:
        raise CommandError(f"{url} is not on a configured site; add the site to config.yaml first")
    channel = call.args.get("channel") or call.channel
    whole_site = normalize_url(url) == normalize_url(host.site_url(site))
    taken = {m.name for m in await host.store.mirrors()}
    path = url.split("://", 1)[-1].split("/", 1)[-1].strip("/")
    name = call.args.get("name") or _unique_name(f"{site}-{path.rsplit('/', 1)[-1] or 'all'}", taken)
    if name in taken:
        raise CommandError(f"a mirror named {name!r} exists already; pick another name=")
    mirror = MirrorSpec(
        name=name,
        site=site,
        targets=(Target(call.chat, channel),),
        pages="all" if whole_site else (url,),
        thread_per=_choice(call, "mode", ("page", "comment"), "page"),
        relay=_choice(call, "relay", ("off", "approved", "pending"), "approved"),
        origin="command",
        created_by=f"{call.chat}:{call.user_id}",
    )
    await host.store.save_mirror(mirror)
    host.mirrors_changed(site)
    return f"Added {mirror.describe()}. Existing comments will appear shortly."


async def mirror_remove(host: CommandHost, call: CommandCall) -> str:
    mirror = await _existing(host, _required(call, "name"))
    if mirror.origin == "config":
        raise CommandError(
            f"{mirror.name!r} is defined in the config file; remove it there (or pause it here)"
        )
    await host.store.delete_mirror(mirror.name)
    return f"Removed {mirror.name}. Threads already made stay as they are."


async def mirror_list(host: CommandHost, call: CommandCall) -> str:
    mirrors = await host.store.mirrors()
    if not mirrors:
        return "No mirrors yet. Add one: mirror add <page URL>"
    return "\n".join(f"- {m.describe()} (from {m.origin})" for m in mirrors)


async def _set_paused(host: CommandHost, call: CommandCall, paused: bool) -> str:
    mirror = await _existing(host, _required(call, "name"))
    if mirror.paused == paused:
        return f"{mirror.name} is already {'paused' if paused else 'running'}."
    await host.store.set_mirror_flag(mirror.name, "paused", paused)
    if not paused:
        # Catch up on what arrived while it was paused: a backfill pass plans only what is missing.
        await host.store.set_mirror_flag(mirror.name, "backfilled", False)
        host.mirrors_changed(mirror.site)
        return f"Resumed {mirror.name}; comments posted meanwhile will follow."
    return f"Paused {mirror.name}. Nothing is mirrored or relayed for it until `mirror resume {mirror.name}`."


async def mirror_pause(host: CommandHost, call: CommandCall) -> str:
    return await _set_paused(host, call, True)


async def mirror_resume(host: CommandHost, call: CommandCall) -> str:
    return await _set_paused(host, call, False)


async def mirror_status(host: CommandHost, call: CommandCall) -> str:
    name = call.args.get("name", "").strip()
    mirror = await _existing(host, name) if name else None
    return "\n".join(await host.status_lines(mirror))


async def show_help(host: CommandHost, call: CommandCall) -> str:
    return HELP


async def summarize(host: CommandHost, call: CommandCall) -> str:
    # Imported on first use: the summarizer and what it loads stay out of an idle bot.
    from bot.commands.summarize import summarize as handler

    return await handler(host, call)


COMMANDS: dict[str, tuple[MirrorCommand, bool]] = {
    "mirror add": (mirror_add, True),
    "mirror remove": (mirror_remove, True),
    "mirror list": (mirror_list, True),
    "mirror pause": (mirror_pause, True),
    "mirror resume": (mirror_resume, True),
    "mirror status": (mirror_status, True),
    "help": (show_help, False),
    "summarize": (summarize, False),
}


async def run_command(host: CommandHost, call: CommandCall) -> str:
    """Check permission, run the handler, and word any refusal for the user."""
    entry = COMMANDS.get(call.name)
    if entry is None:
        return f"Unknown command {call.name!r}.\n{HELP}"
    handler, admin_only = entry
    if admin_only and not call.is_admin:
        return f"Sorry, only admins can use `{call.name}` (you are not an admin of this space)."
    try:
        return await handler(host, call)
    except CommandError as exc:
        return f"Cannot {call.name}: {exc}"


def age(seconds_ago: float | None) -> str:
    if seconds_ago is None:
        return "never"
    delta = max(0.0, time.time() - seconds_ago)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if delta >= size:
            return f"{delta / size:.0f}{unit} ago"
    return f"{delta:.0f}s ago"
