"""neutralize_mentions: mirrored text reads the same but pings nobody."""

from __future__ import annotations

import random
import re

import pytest

from bot.convert import neutralize_mentions

Z = "\u200b"

# What Discord and Matrix clients treat as a mention.
PINGS = [
    re.compile(r"@(?:everyone|here|room)", re.IGNORECASE),
    re.compile(r"<@[!&]?\d+>"),
    re.compile(r"@[A-Za-z0-9._=/+\-]+:(?:[A-Za-z0-9][A-Za-z0-9.\-]*|\[[0-9A-Fa-f:.]+\])"),
]


def pings(text: str) -> list[str]:
    return [m.group() for pattern in PINGS for m in pattern.finditer(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@everyone look", f"@{Z}everyone look"),
        ("hey @here!", f"hey @{Z}here!"),
        ("@room: meeting", f"@{Z}room: meeting"),
        ("@EVERYONE @Here @RoOm", f"@{Z}EVERYONE @{Z}Here @{Z}RoOm"),
        ("cc <@123456789012345678>", f"cc <{Z}@123456789012345678>"),
        ("<@!42> and <@&7>", f"<{Z}@!42> and <{Z}@&7>"),
        ("ask @alice:matrix.org now", f"ask @{Z}alice:matrix.org now"),
        ("@bob.smith:chat.example.co.uk", f"@{Z}bob.smith:chat.example.co.uk"),
        ("@bot:localhost:8448", f"@{Z}bot:localhost:8448"),
        ("a@everyone", f"a@{Z}everyone"),
        ("@everyone:example.org", f"@{Z}everyone:example.org"),
        ("@alice:[::1]:8448", f"@{Z}alice:[::1]:8448"),
    ],
)
def test_mentions_are_neutralized(text: str, expected: str) -> None:
    assert neutralize_mentions(text) == expected
    assert pings(neutralize_mentions(text)) == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "mail bob@example.com",
        "@alice said hi",
        "at 5 @ noon",
        "<#123> channel, <:smile:123> emoji, <t:1700000000> time, </cmd:1> command",
        "<@abc> is not an id",
        "email@ everyone",
        "@alice: hello, @bob:-)",
        "C# @ 10:30",
        "ordinary text with ünïcode 😀 and\nnewlines",
    ],
)
def test_other_text_is_unchanged(text: str) -> None:
    assert neutralize_mentions(text) == text


def test_idempotent() -> None:
    text = "@everyone <@1> <@!2> <@&3> @here @room @a:b.c <@4:x.y>"
    once = neutralize_mentions(text)
    assert neutralize_mentions(once) == once
    assert pings(once) == []


PIECES = [
    "@", "<", ">", "<@", "@everyone", "@here", "@room", "@Room", "everyone", "here", "!", "&", "123", "9",
    ":", "alice", "matrix.org", ".", "-", " ", "\n", "x", "😀", "\u200b", "@@", "<<@", "@alice:matrix.org",
]  # fmt: skip


@pytest.mark.parametrize("seed", range(3))
def test_properties_on_generated_text(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(2000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 25)))
        out = neutralize_mentions(text)
        assert pings(out) == [], (text, out)
        assert neutralize_mentions(out) == out
        assert out.replace(Z, "") == text.replace(Z, "")  # only zero-width spaces were added
