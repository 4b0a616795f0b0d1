"""Hypothesis strategies for hostile comment bodies and chat messages (used by tests/test_properties.py).

Two kinds: `hostile_*` throw anything at a converter (broken HTML, scripts, mentions, invisible and
invalid characters); `tracked_*` build input whose visible words and mentions are known, so a test
can check that none of them is lost.
"""

from __future__ import annotations

import html
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis keeps caches (Unicode tables, constants) even without an example database: not in the repository.
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "thread-mirror-hypothesis")

ZWSP = "\u200b"

# A mention typed in a comment, and the form every chat output must show instead (see bot/convert/mentions.py).
MENTIONS = {
    "@everyone": f"@{ZWSP}everyone",
    "@here": f"@{ZWSP}here",
    "@EVERYONE": f"@{ZWSP}EVERYONE",
    "@room": f"@{ZWSP}room",
    "<@123>": f"<{ZWSP}@123>",
    "<@!42>": f"<{ZWSP}@!42>",
    "<@&456>": f"<{ZWSP}@&456>",
    "@eve:example.org": f"@{ZWSP}eve:example.org",
}
MENTION_NOISE = [
    *MENTIONS, "<#789>", "@here:", "@@everyone", "<<@123>>", "\\@everyone", "`@everyone`", "everyone@here.org",
    "@\u200deveryone", "@evе", "<@123456789012345678>", "@room:[::1]", "@bot:[::1]:8448", "@", "<@", "@&",
]  # fmt: skip
SCRIPTING = [
    "<script>alert(1)</script>", "<script src=//evil.example/x.js></script>", "<SCRIPT>alert(1)</SCRIPT >",
    "<style>body{display:none}</style>", '<iframe src="javascript:alert(1)"></iframe>',
    "<iframe srcdoc='<p>x'></iframe>",
    '<img src=x onerror="alert(1)">', "<svg onload=alert(1)><circle/></svg>", '<div onclick="steal()">click</div>',
    '<a href="javascript:alert(1)">js</a>', '<a href=" JaVaScRiPt:alert(1)">js</a>',
    '<a href="java&#x09;script:x">t</a>',
    '<a href="data:text/html,&lt;script&gt;x">d</a>', '<a href="vbscript:x">v</a>', "<object data=x></object>",
    '<embed src="x">', "<noscript><p>n</p></noscript>", "<template><b>t</b></template>", "<math><mi>x</mi></math>",
    '<form action="https://evil.example"><input name=p></form>', '<meta http-equiv="refresh" content="0;url=x">',
    '<p style="background:url(javascript:alert(1))">s</p>', '<a href="https://e.org" onmouseover="x()">e</a>',
]  # fmt: skip
MARKUP = [
    "<p>", "</p>", "<br>", "<br />", "<hr>", "<div>", "</div>", "<blockquote>", "</blockquote>", "<ul><li>",
    "</li></ul>", "<ol start='3'><li>", "<li>", "<table><tr><td>", "</td></tr></table>", "<details><summary>",
    "<h1>", "</h1>", "<h6>", "<q>", "</q>", "<code>", "</code>", "<pre>", "</pre>", "<kbd>", "<b>", "</b>", "<i>",
    "<strike>", "<font color=red>", "<span class='x'>", "</span>", "<sup>", "<sub>", "<center>", "<dl><dt>",
    '<pre><code class="language-python">x = 1\n\n\nprint(x)</code></pre>', '<a href="https://example.org/a_(b)">a</a>',
    '<a href="https://matrix.to/#/@u:x">pill</a>', '<a href="https://matrix.to/#/@room:x">@room</a>',
    '<a href="https://example.org/">https://example.org/</a>', '<img src="https://example.org/i.png" alt="pic">',
    '<img class="emoji" alt="😀" src="https://s.w.org/e.png">', '<img class="wp-smiley" alt=":)">', "<img>",
    "<!-- hidden -->", "<![CDATA[x]]>", "<?php echo 1; ?>", "<!DOCTYPE html>", "&amp;", "&lt;script&gt;", "&#0;",
    "&#xD800;", "&#x202E;", "&nbsp;", "&bogus;", "&", ">", "< p>",
]  # fmt: skip
# Openers that hide what follows them (nothing hidden is expected in any output).
SWALLOWING = ["<script>", "<style>", "<iframe>", "<!--", "<title>", "<svg>", "<p title='", '<a href="', "<", "<p", "</"]
MARKDOWN = [
    "```", "```python\n", "\n```\n", "``", "`", "**", "*", "__", "_", "~~", "||", "> ", ">>> ", "# ", "-# ", "- ",
    "1. ", "+ ", "===", "---", "[x](https://example.org)", "[x](javascript:alert(1))", "<https://example.org>",
    "https://example.org/a_(b)", "https://x", "\\", "\\*", "<t:123:f>", "<:emoji:1>", "[", "]", "](", ")",
    "![i](https://example.org/i.png)", "[https://a.org](https://b.org)", "#", "|", "~", "<b>", "<i>x</i>",
]  # fmt: skip
INVISIBLE = [
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u061c", "\u200e", "\u200f", "\u202a", "\u202b",
    "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u034f", "\ufe0f", "\u20e3",
]  # fmt: skip
SPACES = [" ", "\n", "\n\n", "\r\n", "\r", "\t", "\xa0", "\u2028", "\u2029", "\u3000", "\x0b", "\x0c", "\x85"]
ODD = [
    "\x00", "\x1b[31m", "\x7f", "\ud800", "\udfff", "\udc80", "\ud83d", "\ude00", "\ud83d\ude00", "😀", "👍🏽", "🇳🇴",
    "🇳", "👨‍👩‍👧", "e\u0301", "﷽", "\U0010ffff", "\ufffd", "\U000e0067", "ǅ", "ß", "İ", "\u0345",
]  # fmt: skip

# Every code point, surrogates included (st.characters() leaves them out unless asked).
_CATEGORIES = [
    "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po",
    "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn",
]  # fmt: skip
_any_char = st.characters(categories=_CATEGORIES)
invalid_utf8 = st.builds(
    lambda data, errors: data.decode("utf-8", errors),
    st.binary(max_size=24),
    st.sampled_from(["surrogateescape", "replace", "ignore"]),
)
_fragment = st.one_of(
    st.sampled_from(MENTION_NOISE + SCRIPTING + MARKUP + MARKDOWN + SWALLOWING),
    st.sampled_from(INVISIBLE + SPACES + ODD),
    st.text(_any_char, max_size=12),
    st.text(max_size=12),
    invalid_utf8,
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
)
blank = st.lists(st.sampled_from([*SPACES, "\u200b", "\ufeff", "&nbsp;", "<p></p>", "<br>"]), max_size=20).map("".join)
# Comment HTML, or chat text (the same fragments read as text): anything goes.
hostile_html = st.one_of(st.lists(_fragment, max_size=30).map("".join), blank, st.text(_any_char, max_size=80))
hostile_chat = hostile_html


def _nest(opening: str, closing: str, depth: int, inner: str) -> str:
    return opening * depth + inner + closing * (depth // 2)  # half of them left open


deep_html = st.builds(
    _nest,
    st.sampled_from(["<b>", "<div>", "<blockquote>", "<ul><li>", "<span onclick=x>", "<a href='https://e.org'>"]),
    st.sampled_from(["</b>", "</div>", "</blockquote>", "</li></ul>", "</span>", "</a>", ""]),
    st.integers(min_value=50, max_value=800),
    st.text(max_size=20),
)


def _grow(fragments: list[str], size: int) -> str:
    """`fragments` repeated to `size` characters (drawing 100 KB character by character is far too slow)."""
    unit = "".join(fragments) or "x"
    return (unit * (size // len(unit) + 1))[:size]


# Made-up words ("w" + hex + "z"): nothing escapes, links or neutralizes them, so they must show as they are.
words = st.integers(min_value=0, max_value=0xFFFFF).map(lambda n: f"w{n:x}z")
big_text = st.builds(
    _grow,
    st.lists(st.one_of(_fragment, words.map(lambda w: f" {w} ")), min_size=1, max_size=30),
    st.integers(min_value=90_000, max_value=110_000),
)


@dataclass(frozen=True)
class Tracked:
    """Input whose visible tokens are known: words (and, in HTML, mentions)."""

    source: str
    words: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()

    def __add__(self, other: Tracked) -> Tracked:
        return Tracked(self.source + other.source, self.words + other.words, self.mentions + other.mentions)


_word = words.map(lambda w: Tracked(f" {w} ", words=(w,)))
_WRAPPERS = [
    ("<p>", "</p>"), ("<p>", ""), ("<div>", "</div>"), ("<b>", "</b>"), ("<em>", "</em>"), ("<code>", "</code>"),
    ("<pre>", "</pre>"), ('<pre><code class="language-js">', "</code></pre>"), ("<blockquote>", "</blockquote>"),
    ("<ul><li>", "</li></ul>"), ("<ol><li>", "</li><li>two</li></ol>"), ("<li>", ""), ("<h2>", "</h2>"),
    ('<a href="https://example.org/x">', "</a>"), ('<a href="javascript:alert(1)">', "</a>"), ("<a>", "</a>"),
    ('<span onclick="alert(1)" style="color:red">', "</span>"), ("<table><tr><td>", "</td></tr></table>"),
    ("<details><summary>", "</summary></details>"), ("<q>", "</q>"), ("<del>", "</del>"), ("<sup>", "</sup>"),
    ("<font color=red>", "</font>"), ("<center>", "</center>"), ("<kbd>", "</kbd>"), ("<h1>", "</h1>"),
]  # fmt: skip
_leaf = st.one_of(
    _word,
    st.sampled_from(list(MENTIONS)).map(lambda m: Tracked(f" {html.escape(m)} ", mentions=(m,))),
    st.sampled_from(SCRIPTING + MARKUP).map(Tracked),  # complete elements and tags: they hide nothing
    st.sampled_from(MARKDOWN + MENTION_NOISE + INVISIBLE + SPACES + ODD).map(lambda t: Tracked(html.escape(t))),
    st.text(_any_char, max_size=12).map(lambda t: Tracked(html.escape(t))),
)
Event = Tracked | tuple[str, str] | None  # a leaf, an element's opening and closing tags, or "close one"


def _nested(events: list[Event]) -> Tracked:
    """Leaves and elements in document order (a flat list draws much faster than st.recursive)."""
    doc, stack = Tracked(""), []
    for event in events:
        if isinstance(event, Tracked):
            doc += event
        elif event is None:
            doc += Tracked(stack.pop() if stack else "")
        else:
            doc += Tracked(event[0])
            stack.append(event[1])
    return doc + Tracked("".join(reversed(stack)))


tracked_html = st.lists(st.one_of(_leaf, _leaf, st.sampled_from(_WRAPPERS), st.none()), max_size=30).map(_nested)
# Chat text: words among anything (chat text has no markup that could hide a word).
_chat_noise = st.one_of(
    st.sampled_from(MARKDOWN + MENTION_NOISE + SCRIPTING + MARKUP + SWALLOWING + INVISIBLE + SPACES + ODD),
    st.text(_any_char, max_size=12),
    invalid_utf8,
)
tracked_chat = st.lists(st.one_of(_word, _chat_noise.map(Tracked)), max_size=30).map(lambda xs: sum(xs, Tracked("")))
