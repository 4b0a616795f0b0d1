"""html_to_markdown: WordPress comment HTML → Discord/Matrix markdown."""

from __future__ import annotations

import html
import random
import re

import pytest

from bot.convert import html_to_markdown
from bot.convert.markdown import escape_markdown

# A tag markdown renderers would take as HTML: not escaped as `\<`, not a `<https://...>` autolink.
HTML_TAG = re.compile(r"(?<!\\)</?(?!https?://)[A-Za-z][^>]*>")
URL = re.compile(r"https?://[^\s<>\\]+")


def unescape(markdown: str) -> str:
    """Undo backslash escapes the CommonMark way (a backslash escapes ASCII punctuation only)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


def unescaped_markup(markdown: str) -> list[str]:
    """Markdown syntax left unescaped in `markdown` (URLs aside), which a client would format."""
    found = []
    text = URL.sub("URL", markdown)
    plain = re.sub(r"\\.", "\x00", text)  # escaped pairs can format nothing
    for pattern in (r"[*`]", r"~~", r"\|\|", r"<[A-Za-z/!?@#:]", r"\]\(", r"(?<![^\W_])_|_(?![^\W_])", r"__",
                    r"^\s*(?:#{1,6}\s|>|[-+]\s|\d+[.)]\s)"):  # fmt: skip
        found += re.findall(pattern, plain, flags=re.MULTILINE)
    return found


def test_paragraphs_and_line_breaks() -> None:
    html_in = "<p>One<br />\ntwo</p>\n<p>Three</p>\n\n\n<p>Four  </p>\n"
    assert html_to_markdown(html_in) == "One\ntwo\n\nThree\n\nFour"


def test_html_source_newlines_are_spaces() -> None:
    assert html_to_markdown("<p>one\ntwo</p>") == "one two"


def test_entities_and_curly_quotes() -> None:
    html_in = "<p>It&#8217;s &#8220;quoted&#8221; &#8212; really&#8230; &amp; &lt;b&gt; &nbsp;x</p>"
    assert html_to_markdown(html_in) == "It’s “quoted” — really… & \\<b> \xa0x"


def test_emphasis() -> None:
    html_in = "<p><strong>bold</strong> <b>b</b> <em>em</em> <i>i</i> <del>gone</del></p>"
    assert html_to_markdown(html_in) == "**bold** **b** *em* *i* ~~gone~~"


def test_links() -> None:
    assert html_to_markdown('<a href="https://example.com/x">text</a>') == "[text](https://example.com/x)"
    same = '<a href="https://example.com/a_b" rel="nofollow ugc">https://example.com/a_b</a>'
    assert html_to_markdown(same) == "<https://example.com/a_b>"
    clickable = '<a href="http://www.example.com" rel="nofollow">www.example.com</a>'  # WordPress make_clickable
    assert html_to_markdown(clickable) == "<http://www.example.com>"
    parens = '<a href="https://en.wikipedia.org/wiki/A_(b)">wiki</a>'
    assert html_to_markdown(parens) == "[wiki](https://en.wikipedia.org/wiki/A_%28b%29)"
    assert html_to_markdown('<a href="javascript:alert(1)">click</a>') == "click"
    assert html_to_markdown('<a href="/relative">rel</a> <a>none</a>') == "rel none"
    assert html_to_markdown('<a href="mailto:a@b.c">mail</a>') == "mail"
    assert html_to_markdown('<a href="https://x.org/">[1]</a>') == "[\\[1\\]](https://x.org/)"


def test_images() -> None:
    assert html_to_markdown('<img src="https://x.org/cat.png" alt="A cat">') == "[A cat](https://x.org/cat.png)"
    assert html_to_markdown('<img src="https://x.org/cat.png">') == "<https://x.org/cat.png>"
    assert html_to_markdown('<img src="data:image/png;base64,AAAA" alt="inline">') == "inline"
    linked = '<a href="https://x.org/big.png"><img src="https://x.org/small.png" alt=""></a>'
    assert html_to_markdown(linked) == "<https://x.org/big.png>"


def test_emoji_and_smilies_are_their_characters() -> None:
    emoji = '<p>Hi <img draggable="false" role="img" class="emoji" alt="😀" src="https://s.w.org/1f600.svg"></p>'
    assert html_to_markdown(emoji) == "Hi 😀"
    smiley = '<p>Oh <img src="https://x.org/smilies/frownie.png" alt=":(" class="wp-smiley"></p>'
    assert html_to_markdown(smiley) == "Oh :("
    assert html_to_markdown("<p>plain 🎉 emoji 👨‍👩‍👧</p>") == "plain 🎉 emoji 👨‍👩‍👧"


def test_blockquote() -> None:
    html_in = "<blockquote><p>First</p><p>Second</p></blockquote><p>After</p>"
    assert html_to_markdown(html_in) == "> First\n> Second\n\nAfter"
    nested = "<blockquote><p>outer</p><blockquote><p>inner</p></blockquote></blockquote>"
    assert html_to_markdown(nested) == "> outer\n> > inner"


def test_lists() -> None:
    html_in = "<ul><li>one</li><li>two<ul><li>nested</li></ul></li></ul><ol><li>first</li><li>second</li></ol><p>x</p>"
    assert html_to_markdown(html_in) == "- one\n- two\n  - nested\n\n1. first\n2. second\n\nx"


def test_code() -> None:
    assert html_to_markdown("<p>Use <code>a_b*c</code> here</p>") == "Use `a_b*c` here"
    block = '<pre class="wp-block-code"><code class="language-python">def f():\n    return x*2  # _x_\n</code></pre>'
    assert html_to_markdown(block) == "```python\ndef f():\n    return x*2  # _x_\n```"
    assert html_to_markdown("<pre>plain\n\n\n\nblock</pre>") == "```\nplain\n\n\n\nblock\n```"


def test_scripts_styles_frames_and_comments_dropped() -> None:
    html_in = (
        "<p>a</p><script>alert('x')</script><style>p { color: red }</style>"
        '<iframe src="https://evil.example"><p>fallback</p></iframe><noscript>ns</noscript>'
        "<!-- secret --><p>b<![CDATA[cdata]]></p><?php echo 1; ?>"
    )
    assert html_to_markdown(html_in) == "a\n\nb"


def test_unknown_tags_keep_their_text() -> None:
    assert html_to_markdown('<div><span style="x">a</span> <font>b</font> <u>c</u></div>') == "a b c"


def test_empty() -> None:
    assert html_to_markdown("") == ""
    assert html_to_markdown("  \n ") == ""
    assert html_to_markdown("<p></p><p> </p>") == ""


def test_markdown_in_text_is_shown_literally() -> None:
    cases = {
        "*x*": "\\*x\\*",
        "**bold**": "\\*\\*bold\\*\\*",
        "_x_": "\\_x\\_",
        "__init__": "\\_\\_init\\_\\_",
        "snake_case_name": "snake_case_name",
        "`code`": "\\`code\\`",
        "~~s~~": "\\~\\~s\\~\\~",
        "||spoiler||": "\\|\\|spoiler\\|\\|",
        "a | b ~ c": "a | b ~ c",
        "[x](https://y.org)": "\\[x\\](https://y.org)",
        "[1] and [2]": "[1] and [2]",
        "# not a heading": "\\# not a heading",
        "C# and F#": "C# and F#",
        "- not a list": "\\- not a list",
        "1. not a list": "1\\. not a list",
        "> not a quote": "\\> not a quote",
        "a > b < c": "a > b < c",
        "<b>tag</b>": "\\<b>tag\\</b>",
        "<@123> <#1> <t:1>": "\\<@123> \\<#1> \\<t:1>",
        "&amp; &copy;": "\\&amp; \\&copy;",
        "C:\\Users\\x": "C:\\Users\\x",
        "\\*": "\\\\\\*",
        "5 * 3": "5 \\* 3",
    }
    for text, expected in cases.items():
        assert html_to_markdown(f"<p>{html.escape(text)}</p>") == expected, text


def test_urls_in_text_are_not_escaped() -> None:
    text = "see https://example.com/a_b_c/*star*/__x__ now"
    assert html_to_markdown(f"<p>{text}</p>") == text


def test_escape_markdown_link_text() -> None:
    assert escape_markdown("a [b] c", link_text=True) == "a \\[b\\] c"
    assert escape_markdown("a [b] c") == "a [b] c"


PIECES = [
    "word", "Hello", "*", "**", "_", "__", "snake_case", "`", "```", "~~", "||", "[", "]", "(", ")", "](",
    "<", ">", "#", "# ", "- ", "+ ", "1. ", "2)", "\\", "&amp;", "&", "@everyone", "<@1>",
    " https://ex.com/a_b*c ", " ", " ", "\n", "’", "😀", "=", "---", "-#",
]  # fmt: skip


@pytest.mark.parametrize("seed", range(3))
def test_plain_text_round_trips_and_formats_nothing(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(300):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 40)))
        markdown = html_to_markdown(f"<p>{html.escape(text)}</p>")
        assert unescape(markdown) == " ".join(text.split()), (text, markdown)
        assert unescaped_markup(markdown) == [], (text, markdown)
        assert not HTML_TAG.search(markdown)


# (not <code>/<pre>: text in code is shown as typed, "<b>" included)
TAGS = [
    "p",
    "strong",
    "em",
    "b",
    "i",
    "blockquote",
    "ul",
    "li",
    "ol",
    "a",
    "span",
    "div",
    "script",
    "h2",
    "del",
]


@pytest.mark.parametrize("seed", range(3))
def test_generated_html_leaves_no_tags_or_trailing_space(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(200):
        out = []
        for _ in range(rng.randint(1, 30)):
            tag = rng.choice(TAGS)
            attrs = ' href="https://ex.com/x_y"' if tag == "a" else ""
            body = html.escape(rng.choice(PIECES)) + rng.choice(["", " ", "<br />\n", "\n"])
            out.append(f"<{tag}{attrs}>{body}" + (f"</{tag}>" if rng.random() < 0.8 else ""))
        markdown = html_to_markdown("".join(out))
        assert not HTML_TAG.search(markdown), markdown
        assert all(line == line.rstrip() for line in markdown.split("\n"))
        assert markdown == markdown.strip()
        assert "\n\n\n" not in markdown or "```" in markdown  # blank lines are kept inside code only


@pytest.mark.timeout(30)  # a hang guard (catastrophic regex backtracking), not a speed goal
def test_pathological_text_does_not_hang() -> None:
    for text in ("[" * 20000, "*" * 20000, "_a " * 7000, "\\" * 20000, "&lt;" * 5000):
        html_to_markdown(f"<p>{text}</p>")
