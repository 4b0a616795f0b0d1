"""`!commands` typed in Matrix rooms → the core's command names and arguments.

`COMMANDS` maps the word after the prefix to a parser; a new command (e.g. `!summarize`) is one
more entry there. Words that are not commands (`!!!`, `!important`) are ignored, so people can
write exclamation marks at the start of a message.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable

FIRST_ARG = {"mirror add": "url"}  # what a bare word means; anything else names a mirror
Parsed = tuple[str, dict[str, str]]


class CommandSyntaxError(Exception):
    """The command could not be read (unbalanced quotes...); worded for the person who typed it."""


def _keywords(name: str, words: list[str]) -> dict[str, str]:
    args: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if sep and key:
            args[key.lower()] = value
        else:
            args.setdefault(FIRST_ARG.get(name, "name"), word)
    return args


def _mirror(words: list[str]) -> Parsed:
    if not words or words[0].lower() == "help":
        return "help", {}
    name = f"mirror {words[0].lower()}"
    return name, _keywords(name, words[1:])


def _help(words: list[str]) -> Parsed:
    return "help", {}


def _summarize(words: list[str]) -> Parsed:
    """`!summarize [short|long]`. Matrix has no answer only the asker sees: answers are public."""
    args = {"length": "long" if any(w.lower() == "long" for w in words) else "short"}
    return "summarize", args


COMMANDS: dict[str, Callable[[list[str]], Parsed]] = {
    "mirror": _mirror,
    "summarize": _summarize,
    "help": _help,
}


def parse_command(text: str, prefix: str = "!") -> Parsed | None:
    """`!mirror add https://x.org/p mode=comment` → ("mirror add", {"url": ..., "mode": "comment"}).

    None when `text` is not one of our commands.
    """
    line = text.strip().split("\n", 1)[0]
    if not line.startswith(prefix):
        return None
    rest = line[len(prefix) :]
    word = rest.split(maxsplit=1)[0].lower() if rest.split() else ""
    parser = COMMANDS.get(word)
    if parser is None or not rest[:1].strip():
        return None  # "! mirror" (space after the prefix) is prose, not a command
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise CommandSyntaxError(f"could not read that command: {exc}") from None
    return parser(words[1:])


def matrix_help(text: str, prefix: str = "!") -> str:
    """The core's help, worded for Matrix: the commands this adapter reads shown with their prefix."""
    words = "|".join(re.escape(w) for w in COMMANDS)
    # A command starts a line (after its indentation) or a column (after two spaces).
    shown = re.sub(rf"(?m)(^[ \t]*|(?<=\S  )[ \t]*)(?=(?:{words})\b)", lambda m: m.group(1) + prefix, text)
    return f"Commands start with {prefix} here, e.g. {prefix}mirror list.\n{shown}"
