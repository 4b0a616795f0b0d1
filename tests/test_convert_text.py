"""html_to_text and excerpt."""

from __future__ import annotations

import random
import unicodedata

import pytest

from bot.convert import excerpt, html_to_text


def test_paragraphs_breaks_and_entities() -> None:
    html_in = "<p>It&#8217;s <strong>bold</strong> &amp; <em>em</em><br />\nnext line</p>\n<p>Second &#8230;</p>"
    assert html_to_text(html_in) == "It’s bold & em\nnext line\n\nSecond …"


def test_markup_characters_are_not_escaped() -> None:
    html_in = "<p>*x* _y_ snake_case `z` &lt;b&gt; # h</p>"
    assert html_to_text(html_in) == "*x* _y_ snake_case `z` <b> # h"


def test_links_and_images_keep_their_visible_text() -> None:
    html_in = (
        '<p>See <a href="https://example.com">the site</a>, <a href="https://x.org">https://x.org</a> '
        '<img src="https://x.org/cat.png" alt="a cat"> '
        '<img class="emoji" alt="😀" src="https://s.w.org/e.svg"> '
        '<img src="https://x.org/no-alt.png"></p>'
    )
    assert html_to_text(html_in) == "See the site, https://x.org a cat 😀"


def test_scripts_styles_and_frames_dropped() -> None:
    html_in = "<p>a</p><script>var x = 1;</script><style>p{}</style><iframe>f</iframe><p>b</p>"
    assert html_to_text(html_in) == "a\n\nb"


def test_structure() -> None:
    html_in = (
        "<h2>Title</h2><blockquote><p>quoted</p></blockquote><ul><li>one</li><li>two</li></ul>"
        "<pre><code>  code\n  block</code></pre><hr /><p>end</p>"
    )
    assert html_to_text(html_in) == "Title\n\n> quoted\n\n- one\n- two\n\n  code\n  block\n\nend"


def test_post_title_and_excerpt_shapes() -> None:
    assert html_to_text("Mirror test post &#8211; &#8220;hi&#8221;") == "Mirror test post – “hi”"
    wp_excerpt = (
        '<p>Body of the post [&hellip;]</p>\n<div class="more-link-container"><a class="more-link" '
        'href="http://127.0.0.1:8088/mirror-test/">Continue reading<span class="screen-reader-text">'
        " &#8220;Mirror test post&#8221;</span></a></div>\n"
    )
    assert html_to_text(wp_excerpt) == "Body of the post […]\n\nContinue reading “Mirror test post”"


def test_empty() -> None:
    assert html_to_text("") == ""
    assert html_to_text("<p> </p>") == ""


# --- excerpt --------------------------------------------------------------------------------


def test_excerpt_short_text_collapsed() -> None:
    assert excerpt("  hello \n\n world\t ") == "hello world"
    assert excerpt("") == ""
    assert excerpt("exactly ten", 11) == "exactly ten"


def test_excerpt_cuts_at_a_word_boundary() -> None:
    assert excerpt("The quick brown fox jumps", 15) == "The quick…"
    assert excerpt("The quick brown fox jumps", 16) == "The quick brown…"
    assert excerpt("Hello, world, and more", 14) == "Hello, world…"  # no "world,…"


def test_excerpt_cuts_a_long_word() -> None:
    assert excerpt("x" * 50, 10) == "x" * 9 + "…"
    assert excerpt("a " + "y" * 50, 10) == "a " + "y" * 7 + "…"


def test_excerpt_keeps_characters_whole() -> None:
    assert excerpt("e\u0301" * 10, 4) == "e\u0301…"
    family = "👨\u200d👩\u200d👧"
    assert excerpt("ab" + family * 3, 6) == "ab…"


def test_excerpt_tiny_and_bad_limits() -> None:
    assert excerpt("hello world", 1) == "…"
    assert excerpt("hello world", 2) == "h…"
    with pytest.raises(ValueError):
        excerpt("x", 0)


@pytest.mark.parametrize("seed", range(3))
def test_excerpt_properties(seed: int) -> None:
    rng = random.Random(seed)
    pieces = ["word", "a", "longer", " ", "\n", "\t", "x" * 300, "😀", "e\u0301", ",", "."]
    for _ in range(500):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 60)))
        limit = rng.randint(1, 200)
        result = excerpt(text, limit)
        line = " ".join(text.split())
        assert len(result) <= limit
        assert "\n" not in result and "  " not in result
        if len(line) <= limit:
            assert result == line
        else:
            assert result.endswith("…")
            assert line.startswith(result[:-1])
            assert not result[-2:-1].isspace()
            if len(result) > 1:
                assert not unicodedata.combining(line[len(result) - 1])
