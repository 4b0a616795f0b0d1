"""What the HTML converters share: parsing and cleaning the HTML, link checks, the final tidy-up."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Tag
from bs4.element import NavigableString, PreformattedString
from markdownify import MarkdownConverter

from bot.convert._unicode import valid_unicode

# Elements dropped together with everything inside them: never visible text.
DROPPED_TAGS = (
    "script", "style", "iframe", "noscript", "template", "object", "embed",
    "svg", "math", "head", "title", "meta", "link",
)  # fmt: skip

# markdownify recurses once per element: deeper nesting would overflow Python's stack.
MAX_NESTING = 64

_BLANK_LINES = re.compile(r"\n{3,}")
_TAG_START = re.compile(r"<(?=[A-Za-z])")
_FENCED_BLOCK = re.compile(r"^```.*?^```[^\n]*$", re.MULTILINE | re.DOTALL)


def parse(html: str) -> BeautifulSoup:
    """Parse HTML and remove what must never reach a reader: scripts, styles, frames, comments.

    Lone surrogates become U+FFFD; elements nested deeper than `MAX_NESTING` become their text.
    """
    soup = BeautifulSoup(_defuse_unclosed_tags(valid_unicode(html)), "html.parser")
    for tag in soup.find_all(DROPPED_TAGS):
        tag.decompose()
    # Comments, CDATA, <!DOCTYPE>, <?php ?>: markdownify would print some of them as text.
    for special in soup.find_all(string=lambda s: isinstance(s, PreformattedString)):
        special.extract()
    _flatten_deep(soup)
    # "line<br />\nnext": the newline after <br /> would start the next line with a space.
    for br in soup.find_all("br"):
        after = br.next_sibling
        if isinstance(after, NavigableString) and br.find_parent("pre") is None:
            after.replace_with(after.lstrip(" \t\r\n"))
    return soup


def _defuse_unclosed_tags(html: str) -> str:
    """Escape the "<" of start tags after the last ">": no such tag can end, so html.parser makes
    them text anyway, but only after rescanning to the end for each one (quadratic: 60 KB took 40 s).
    """
    end = html.rfind(">") + 1
    return html[:end] + _TAG_START.sub("&lt;", html[end:])


def _flatten_deep(soup: BeautifulSoup) -> None:
    """Replace each element nested deeper than `MAX_NESTING` by its text (in one pass: bs4's
    unwrap walks the whole subtree, so unwrapping one level at a time is quadratic)."""
    depth = {id(soup): 0}
    too_deep: list[Tag] = []
    for node in soup.descendants:
        if isinstance(node, Tag):
            depth[id(node)] = level = depth[id(node.parent)] + 1
            if level == MAX_NESTING + 1:
                too_deep.append(node)
    for tag in too_deep:
        tag.replace_with(NavigableString(tag.get_text()))


def attr(el: Tag, name: str) -> str:
    """An attribute as one string ("" when missing)."""
    value = el.get(name)
    if value is None:
        return ""
    return value if isinstance(value, str) else " ".join(value)


def http_url(href: str) -> str | None:
    """`href` when it is an absolute http(s) URL (spaces encoded, control characters dropped); else None."""
    href = "".join(ch for ch in href.strip() if ch >= " ").replace(" ", "%20")
    scheme, sep, rest = href.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest:
        return None
    return href


def is_emoji_image(el: Tag) -> bool:
    """WordPress shows emoji and smilies as <img class="emoji|wp-smiley" alt="😀">: they are text."""
    classes = attr(el, "class").split()
    return "emoji" in classes or "wp-smiley" in classes


def tidy(text: str) -> str:
    """No trailing whitespace, at most one blank line in a row (outside code blocks), no blank edges."""
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    out: list[str] = []
    pos = 0
    for block in _FENCED_BLOCK.finditer(text):
        out.append(_BLANK_LINES.sub("\n\n", text[pos : block.start()]))
        out.append(block.group())
        pos = block.end()
    out.append(_BLANK_LINES.sub("\n\n", text[pos:]))
    return "".join(out).strip()


class BaseConverter(MarkdownConverter):
    """markdownify with the layout both outputs share: newlines for <br>, `> ` quotes, `-` bullets."""

    def __init__(self) -> None:
        super().__init__(
            bullets="-",
            heading_style="atx",
            escape_asterisks=False,  # the markdown converter does its own escaping
            escape_underscores=False,
            wrap=True,  # HTML source newlines are spaces; only <br> and blocks break lines
            wrap_width=None,
            code_language_callback=code_language,
        )

    def render(self, html: str) -> str:
        if not html or not html.strip():
            return ""
        return tidy(self.convert_soup(parse(html)))

    def convert_br(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        # markdownify ends the line with two spaces; chat markdown takes a plain newline.
        return " " if "_inline" in parent_tags else "\n"

    def convert_blockquote(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        text = text.strip()
        if "_inline" in parent_tags:
            return f" {text} "
        if not text:
            return ""
        # Discord ends a quote at a line that is just ">", so quoted paragraphs are not blank-separated.
        lines = [line for line in text.split("\n") if line.strip()]
        return "\n\n" + "\n".join("> " + line for line in lines) + "\n\n"


def code_language(el: Tag) -> str | None:
    """The language of `<pre><code class="language-python">` (WordPress's code block), if any."""
    for node in (el, el.find("code")):
        if isinstance(node, Tag):
            for cls in attr(node, "class").split():
                if cls.startswith("language-") and re.fullmatch(r"[\w+#.-]{1,32}", cls[9:]):
                    return cls[9:]
    return None
