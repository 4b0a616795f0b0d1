"""split_message / split_utf8: sizes, preferred breaks, code fences, and that no text is lost."""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Callable

import pytest

from bot.convert import split_message, split_utf8

FENCE = re.compile("```")
FENCE_LANG = re.compile(r"```([A-Za-z0-9_+\-.#]{1,32})?\n")


def utf8_len(s: str) -> int:
    return len(s.encode("utf-8", "surrogatepass"))


def open_fence_lang(text: str, pos: int) -> str | None:
    """The language of the ``` block `pos` is inside ("" for none), None outside: every ``` toggles."""
    markers = [m.start() for m in FENCE.finditer(text) if m.end() <= pos]
    if len(markers) % 2 == 0:
        return None
    lang = FENCE_LANG.match(text, markers[-1])
    return (lang.group(1) or "") if lang else ""


def _next_positions(text: str, pos: int, part: str) -> list[int]:
    """Where the text may continue after `part`, if `part` can be the text from `pos` on.

    A part is the text, less whitespace before it, maybe with "```lang\n" added in front (when
    `pos` is inside a code block) and "\n```" added at the end (when it ends inside one).
    """
    lang = open_fence_lang(text, pos)
    bodies = [part]
    if lang is not None and part.startswith(f"```{lang}\n"):
        bodies.insert(0, part[len(lang) + 4 :])
    found: list[int] = []
    for body in bodies:
        cores = [(body, False)] + ([(body[:-4], True)] if body.endswith("\n```") else [])
        for core, added_close in cores:
            at = text.find(core, pos)
            if at < 0 or text[pos:at].strip():
                continue
            if added_close and open_fence_lang(text, at + len(core)) is None:
                continue  # a block is closed only where the text is inside one
            found.append(at + len(core))
    return found


def assert_no_text_lost(text: str, parts: list[str]) -> None:
    """The parts, less the fence markers added at their edges, are the text in order, with only
    whitespace missing between them. ("x\n```" may be the text's own fence or an added one:
    the alternatives are searched, depth first.)"""
    stack = [(0, _next_positions(text, 0, parts[0]) if parts else [0])]
    while stack:
        index, positions = stack[-1]
        if not positions:
            stack.pop()
            continue
        pos = positions.pop()
        if index + 1 == len(parts) or not parts:
            if not text[pos:].strip():
                return
            continue
        stack.append((index + 1, _next_positions(text, pos, parts[index + 1])))
    raise AssertionError(f"the parts are not the text: {parts[:5]!r} ... vs {text[:200]!r}")


def check(text: str, parts: list[str], limit: int, size: Callable[[str], int] = len) -> None:
    assert all(size(part) <= limit for part in parts), [size(p) for p in parts]
    assert all(part.strip() for part in parts), "empty part"
    assert all(part == part.rstrip() for part in parts), "trailing whitespace"
    assert_no_text_lost(text, parts)
    if not text.strip():
        assert parts == []


def test_the_no_text_lost_check_itself() -> None:
    assert_no_text_lost("a b\n\nc", ["a", "b", "c"])
    assert_no_text_lost("```py\nx\ny\n```", ["```py\nx\n```", "```py\ny\n```"])
    for lost in (["a", "c"], ["a b", "c", "d"], ["ab", "c"], ["a", "b\nc"], ["b", "a", "c"]):
        with pytest.raises(AssertionError):
            assert_no_text_lost("a b\n\nc", lost)
    with pytest.raises(AssertionError):  # the "\n```" cannot be an added close outside a block
        assert_no_text_lost("x\ny", ["x\n```", "y"])


# --- basics ---------------------------------------------------------------------------------


def test_empty_and_whitespace_give_no_parts() -> None:
    assert split_message("", 10) == []
    assert split_message(" \n\t\n ", 10) == []
    assert split_utf8("", 10) == []


def test_short_text_is_one_part_trimmed() -> None:
    assert split_message("hello", 10) == ["hello"]
    assert split_message("\n\nhello world\n\n", 11) == ["hello world"]
    assert split_message("hello", 5) == ["hello"]


def test_bad_limits() -> None:
    with pytest.raises(ValueError):
        split_message("x", 0)
    with pytest.raises(ValueError):
        split_utf8("x", 3)


def test_prefers_paragraphs_then_lines_then_sentences_then_spaces() -> None:
    assert split_message("one two\n\nthree four five", 17) == ["one two", "three four five"]
    assert split_message("one. two\nthree four five", 18) == ["one. two", "three four five"]
    assert split_message("One two. Three four five", 20) == ["One two.", "Three four five"]
    assert split_message("one two three four", 10) == ["one two", "three four"]
    assert split_message("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_paragraph_break_wins_over_a_later_line_break() -> None:
    text = "intro\n\nline one\nline two\nline three"
    assert split_message(text, 25) == ["intro", "line one\nline two", "line three"]


def test_sentence_ends_with_quotes_and_cjk() -> None:
    assert split_message('He said "stop." Then left.', 17) == ['He said "stop."', "Then left."]
    assert split_message("日本語です。次の文です。", 7) == ["日本語です。", "次の文です。"]


def test_keeps_indentation_after_a_line_break() -> None:
    parts = split_message("def f():\n    return 1\n    # end", 21)
    assert parts == ["def f():\n    return 1", "    # end"]


def test_exactly_at_the_limit() -> None:
    assert split_message("abcde fghij", 5) == ["abcde", "fghij"]
    assert split_message("abcde\n\nfghij", 5) == ["abcde", "fghij"]


# --- characters that must stay whole --------------------------------------------------------


def test_does_not_split_combining_sequences() -> None:
    text = "e\u0301" * 10  # é as e + COMBINING ACUTE ACCENT
    parts = split_message(text, 3)
    check(text, parts, 3)
    assert all(not unicodedata.combining(part[0]) for part in parts)


def test_does_not_split_surrogate_pairs_or_emoji_sequences() -> None:
    pairs = "\ud83d\ude00" * 5  # a str holding UTF-16 surrogate pairs
    parts = split_message(pairs, 3)
    check(pairs, parts, 3)
    assert all(len(p) % 2 == 0 for p in parts)
    family = "👨\u200d👩\u200d👧\u200d👦"  # 7 code points
    assert split_message("ab" + family + family, 8) == ["ab", family, family]
    flags = "🇫🇷🇩🇪🇯🇵"
    assert split_message(flags, 3) == ["🇫🇷", "🇩🇪", "🇯🇵"]
    thumbs = "👍🏽" * 3
    assert split_message(thumbs, 3) == ["👍🏽"] * 3


def test_does_not_split_markdown_escapes() -> None:
    text = "\\*" * 40  # what html_to_markdown makes of "****..."
    parts = split_message(text, 7)
    check(text, parts, 7)
    assert all(len(part) % 2 == 0 for part in parts)


def test_hard_cut_when_one_character_sequence_exceeds_the_limit() -> None:
    family = "👨\u200d👩\u200d👧\u200d👦"
    parts = split_message(family, 3)
    check(family, parts, 3)


# --- code fences ----------------------------------------------------------------------------


def test_code_block_is_closed_and_reopened_with_its_language() -> None:
    code = "\n".join(f"line_{i} = {i}" for i in range(12))
    text = f"Intro.\n\n```python\n{code}\n```\nOutro."
    parts = split_message(text, 80)
    check(text, parts, 80)
    assert len(parts) > 2
    for part in parts[1:-1]:
        assert part.startswith("```python\n")
        assert part.endswith("\n```")
    assert parts[0] == "Intro."  # not "Intro.\n\n```python": the block moves whole to the next part
    for part in parts:
        assert part.count("```") % 2 == 0


def test_fence_markers_count_against_the_limit() -> None:
    text = "```\n" + "word " * 100 + "\n```"
    for limit in (20, 33, 64, 100):
        parts = split_message(text, limit)
        check(text, parts, limit)
        assert all(p.count("```") == 2 for p in parts)


def test_inline_discord_code_block() -> None:
    text = "```js\nconsole.log(1); console.log(2); console.log(3);```"
    parts = split_message(text, 30)
    check(text, parts, 30)
    assert parts[1].startswith("```js\n")


def test_unclosed_fence_is_not_closed_at_the_end() -> None:
    text = "```\n" + "a b c d e f g h i j k l m n o p"
    parts = split_message(text, 20)
    check(text, parts, 20)
    assert not parts[-1].endswith("```")


def test_too_small_a_limit_splits_without_fence_repair() -> None:
    text = "```python\nprint('hello world')\n```"
    parts = split_message(text, 8)
    check(text, parts, 8)


# --- bytes ----------------------------------------------------------------------------------


def test_split_utf8_counts_bytes() -> None:
    text = "é" * 10 + " " + "😀" * 10
    parts = split_utf8(text, 9)
    check(text, parts, 9, utf8_len)
    assert parts[:3] == ["éééé", "éééé", "éé"]
    assert parts[3:] == ["😀😀"] * 5


def test_split_utf8_limit_of_one_character() -> None:
    text = "a😀b€"
    assert split_utf8(text, 4) == ["a", "😀", "b€"]  # € is 3 bytes


def test_split_utf8_keeps_code_fences() -> None:
    text = "```py\n" + "\n".join(f"print('ünïcödé {i}')" for i in range(50)) + "\n```"
    parts = split_utf8(text, 200)
    check(text, parts, 200, utf8_len)
    assert all(p.startswith("```py\n") and p.endswith("```") for p in parts)


# --- properties over generated text ---------------------------------------------------------

PIECES = [
    "word", "Hello", "world.", "Done!", "Why?", "snake_case", "@everyone", "<@123>", "https://example.com/a_b",
    " ", " ", " ", "  ", "\t", "\n", "\n", "\n\n", "\n   \n", "    indented",
    "\n```\n", "\n```python\n", "```", "`inline`",
    "😀", "👨\u200d👩\u200d👧", "🇫🇷", "e\u0301", "日本語。", "ünïcödé", "\u200b",
]  # fmt: skip


def generated_texts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        pieces = [rng.choice(PIECES) for _ in range(rng.randint(0, 120))]
        if rng.random() < 0.15:
            pieces.insert(rng.randint(0, len(pieces)), rng.choice("xé😀") * 5000)  # one very long word
        if rng.random() < 0.2:
            pieces.append("".join(rng.choice("abc de\nf.") for _ in range(rng.randint(1, 3000))))
        texts.append("".join(pieces))
    return texts


@pytest.mark.parametrize("seed", range(4))
def test_split_message_properties(seed: int) -> None:
    rng = random.Random(seed)
    for text in generated_texts(seed, 60):
        limit = rng.choice([1, 2, 3, 7, 16, 40, 64, 100, 500, 2000])
        parts = split_message(text, limit)
        check(text, parts, limit)
        if limit >= 64:  # room for fence repair: every part but the last balances its ```
            for part in parts[:-1]:
                assert part.count("```") % 2 == 0, part


@pytest.mark.parametrize("seed", range(4))
def test_split_utf8_properties(seed: int) -> None:
    rng = random.Random(100 + seed)
    for text in generated_texts(100 + seed, 60):
        limit = rng.choice([4, 5, 9, 30, 64, 200, 1000, 4000])
        parts = split_utf8(text, limit)
        check(text, parts, limit, utf8_len)
        if limit >= 64:
            for part in parts[:-1]:
                assert part.count("```") % 2 == 0, part
