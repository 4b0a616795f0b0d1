"""Make mirrored text unable to ping anybody on Discord or Matrix."""

from __future__ import annotations

import re

from bot.convert._unicode import valid_unicode

ZWSP = "\u200b"

# A ZERO WIDTH SPACE goes right after the "@" or "<" matched below. What follows the insertion
# point then starts with ZWSP, so the patterns no longer match: applying twice changes nothing.
_MENTION = re.compile(
    r"""
      (?<=<)(?=@[!&]?\d+>)                          # Discord <@123>, <@!123> (nickname), <@&123> (role)
    | (?<=@)(?=(?i:everyone|here|room))             # @everyone, @here (Discord), @room (Matrix), any case
    | (?<=@)(?=[\w.=/+-]+:(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]))  # Matrix @user:server.tld, @user:[::1]
    """,
    re.VERBOSE,
)


def neutralize_mentions(text: str) -> str:
    """Insert U+200B ZERO WIDTH SPACE where `text` could mention somebody, so it reads the same
    but pings nobody: `@everyone`, `@here`, `@room`, `<@123>`, `<@!123>`, `<@&123>`, `@user:server.tld`.

    Matrix clients may also notify a user whose display name or localpart appears as a plain
    word; only `m.mentions` on the event (set by the Matrix sender) turns that off.

    As all mirrored text passes here, lone surrogates become U+FFFD too: they cannot go out as JSON.
    """
    return _MENTION.sub(ZWSP, valid_unicode(text))
