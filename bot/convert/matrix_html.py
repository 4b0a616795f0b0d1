"""WordPress comment HTML → the HTML subset Matrix clients accept in `formatted_body`, and
splitting that HTML into parts that fit an event.

`sanitize_html` keeps only the tags and attributes the Matrix spec recommends (m.room.message,
`org.matrix.custom.html`), with links limited to http(s)/ftp/mailto/magnet, images turned into
links (Matrix only shows `mxc://` images), scripts and styles dropped with their content, other
tags unwrapped (block ones become <div>), source newlines folded (clients show a newline in a
formatted body as a line break), nesting capped and mentions neutralized in the text.
"""

from __future__ import annotations

import html
import re

from bs4 import BeautifulSoup, Tag
from bs4.element import NavigableString

from bot.convert._html import attr, is_emoji_image, parse
from bot.convert.mentions import neutralize_mentions
from bot.convert.split import split_utf8
from bot.convert.text import html_to_text

# The spec's recommended tags (v1.10+), minus <img> and <font> which are rewritten.
ALLOWED_TAGS = frozenset((
    "del", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "p", "a", "ul", "ol", "sup", "sub", "li",
    "b", "i", "u", "strong", "em", "s", "code", "hr", "br", "div", "table", "thead", "tbody", "tr", "th",
    "td", "caption", "pre", "span", "details", "summary",
))  # fmt: skip
RENAMED = {"strike": "del", "kbd": "code", "samp": "code", "tt": "code", "cite": "i", "var": "i", "dfn": "i"}
# Not allowed, but their content needs its own lines: they become <div>.
BLOCKS = frozenset((
    "address", "article", "aside", "center", "dd", "dl", "dt", "fieldset", "figcaption", "figure",
    "footer", "form", "header", "main", "nav", "section", "hgroup", "legend",
))  # fmt: skip
BLOCK_TAGS = frozenset((
    "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "p", "ul", "ol", "li", "hr", "div", "table",
    "thead", "tbody", "tr", "th", "td", "caption", "pre", "details", "summary",
))  # fmt: skip
LINK_SCHEMES = ("https", "http", "ftp", "mailto", "magnet")
MAX_DEPTH = 40  # clients refuse (or flatten) deeper nesting; Element's limit is 100
_CODE_LANGUAGE = re.compile(r"language-[\w+#.-]{1,32}")
_NEWLINES = re.compile(r"[^\S\xa0]*\n\s*")


def _link_target(href: str) -> str | None:
    href = "".join(ch for ch in href.strip() if ch >= " ").replace(" ", "%20")
    scheme = href.split(":", 1)[0].lower() if ":" in href else ""
    if scheme not in LINK_SCHEMES:
        return None
    if scheme in ("http", "https", "ftp") and not href[len(scheme) :].startswith("://"):
        return None
    return href


def _language(tag: Tag) -> str | None:
    return next((c for c in attr(tag, "class").split() if _CODE_LANGUAGE.fullmatch(c)), None)


def _clean_tag(tag: Tag) -> None:
    """Rename, unwrap or strip one element to what Matrix allows (its children are handled on their own)."""
    name = tag.name
    if name == "img":
        alt = " ".join(attr(tag, "alt").split())
        src = _link_target(attr(tag, "src"))
        if is_emoji_image(tag) or src is None or tag.find_parent("a") is not None:
            tag.replace_with(alt)
        else:
            link = Tag(name="a", attrs={"href": src})
            link.string = alt or "image"
            tag.replace_with(link)
        return
    if name == "q":
        tag.insert(0, "“")
        tag.append("”")
        tag.unwrap()
        return
    name = RENAMED.get(name, name)
    if name in BLOCKS:
        name = "div"
    if name not in ALLOWED_TAGS:
        tag.unwrap()
        return
    keep: dict[str, str] = {}
    if name == "a":
        target = _link_target(attr(tag, "href"))
        if target is None:
            tag.unwrap()
            return
        keep["href"] = target
    elif name == "ol":
        start = attr(tag, "start").strip()
        if start.isdigit() and start != "1":
            keep["start"] = str(int(start))
    elif name == "code":
        language = _language(tag)
        if language is not None:
            keep["class"] = language
    elif name == "pre":
        # The language may sit on <pre>; Matrix reads it from the <code> inside.
        language, code = _language(tag), tag.find("code")
        if language is not None and isinstance(code, Tag) and _language(code) is None:
            code["class"] = language
    tag.name = name
    tag.attrs.clear()
    tag.attrs.update(keep)


def _depth(tag: Tag) -> int:
    return sum(1 for parent in tag.parents if parent.name != "[document]")


def _fold_whitespace(soup: BeautifulSoup) -> None:
    """Source newlines are spaces in HTML; whitespace next to blocks is nothing (outside <pre>)."""
    for text in list(soup.find_all(string=True)):
        if not isinstance(text, NavigableString) or text.find_parent("pre") is not None:
            continue
        folded = _NEWLINES.sub(" ", str(text))
        if not folded.strip():
            before, after = text.previous_sibling, text.next_sibling
            parent = text.parent
            next_to_block = any(isinstance(n, Tag) and n.name in BLOCK_TAGS | {"br"} for n in (before, after))
            at_edge = before is None or after is None
            if next_to_block or (at_edge and (parent is None or parent.name in BLOCK_TAGS | {"[document]"})):
                text.extract()
                continue
            folded = " "
        if folded != str(text):
            text.replace_with(folded)


def sanitize_html(source: str) -> str:
    """WordPress comment HTML (`content.rendered`) → HTML for a Matrix `formatted_body`."""
    if not source or not source.strip():
        return ""
    soup = parse(source)  # scripts, styles, frames and HTML comments are gone
    for tag in soup.find_all(True):
        if tag.parent is not None or tag is soup:
            _clean_tag(tag)
    for tag in soup.find_all(True):
        if _depth(tag) > MAX_DEPTH:
            tag.unwrap()
    _fold_whitespace(soup)
    for text in list(soup.find_all(string=True)):
        neutral = neutralize_mentions(str(text))
        if neutral != str(text):
            text.replace_with(neutral)
    return soup.decode(formatter="minimal").strip()


# -- splitting ---------------------------------------------------------------------------------

CONTAINERS = frozenset({"blockquote", "ul", "ol", "div", "details", "table", "tbody", "thead"})
TEXT_WRAPS = frozenset({"p", "pre", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "summary", "caption"})


def _size(s: str) -> int:
    return len(s.encode("utf-8", "surrogatepass"))


def _text_pieces(text: str, max_bytes: int, wrap: str) -> list[str]:
    """Escaped `text` in <wrap> elements of at most `max_bytes` each (newlines as <br/> outside <pre>)."""

    def render(piece: str) -> str:
        escaped = html.escape(piece, quote=False)
        if wrap == "pre":
            return f"<pre><code>{escaped}</code></pre>"
        return f"<{wrap}>" + escaped.replace("\n", "<br/>") + f"</{wrap}>"

    overhead = _size(render(""))
    budget = max(4, max_bytes - overhead)
    while True:
        pieces = [render(p) for p in split_utf8(text, budget)] if text.strip() else []
        if all(_size(p) <= max_bytes for p in pieces) or budget == 4:
            return pieces
        budget = max(4, budget * 2 // 3)  # escaping made some piece longer: try smaller ones


def _split_node(node: Tag | NavigableString, max_bytes: int) -> list[str]:
    """Pieces of one top-level node, each at most `max_bytes` (a too-big node is split further)."""
    # A text node as HTML: str() would give its text unescaped ("&lt;script&gt;" → a real <script>).
    whole = node.output_ready("minimal") if isinstance(node, NavigableString) else node.decode(formatter="minimal")
    if _size(whole) <= max_bytes:
        return [whole]
    if isinstance(node, NavigableString):
        return _text_pieces(str(node), max_bytes, "p")
    if node.name in CONTAINERS:
        opening = "<" + node.name + "".join(f' {k}="{html.escape(str(v))}"' for k, v in node.attrs.items()) + ">"
        closing = f"</{node.name}>"
        inner = _group(
            [c for c in node.children if isinstance(c, Tag | NavigableString)], max_bytes - _size(opening + closing)
        )
        if inner:
            return [opening + part + closing for part in inner]
    wrap = node.name if node.name in TEXT_WRAPS else "p"
    text = node.get_text() if wrap == "pre" else html_to_text(whole)
    return _text_pieces(text, max_bytes, wrap)


def _group(nodes: list[Tag | NavigableString], max_bytes: int) -> list[str]:
    if max_bytes < 64:
        return []
    parts: list[str] = []
    current = ""
    for node in nodes:
        for piece in _split_node(node, max_bytes):
            if current and _size(current + piece) > max_bytes:
                parts.append(current)
                current = ""
            current += piece
    if current.strip():
        parts.append(current)
    return parts


def split_html(source: str, max_bytes: int) -> list[str]:
    """Split (sanitized) HTML between top-level blocks into parts of at most `max_bytes` UTF-8 bytes.

    A block too big on its own is split inside (lists and quotes by their children, anything
    else as its text). No text is lost; empty input gives [].
    """
    if max_bytes < 64:
        raise ValueError("max_bytes must be at least 64")
    soup = BeautifulSoup(source, "html.parser")
    nodes = [n for n in soup.contents if isinstance(n, Tag | NavigableString)]
    return [p for p in _group(nodes, max_bytes) if p.strip()]
