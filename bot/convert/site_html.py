"""A chat message → safe HTML for a WordPress comment.

Every character of the chat text is HTML-escaped; the only tags in the result are the ones made
here: <p>, <br />, <strong>, <em>, <del>, <code>, <pre>, <blockquote> and <a href="http(s)://...">.
"""

from __future__ import annotations

import html
import re
import unicodedata
from urllib.parse import urlsplit

_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
_FENCE_OPEN = re.compile(r"[^\S\n]*```([\w+#.-]*)[^\S\n]*$")
_QUOTE_LINE = re.compile(r"[^\S\n]*>(?: |$)")
_URL = r"(?i:https?)://[^\s<>\"`]+"
# Spans never contain their own delimiter (and code spans are bounded), so that text full of
# unclosed delimiters ("**a **a **a ...") is scanned in linear time, not quadratic.
_INLINE = re.compile(
    rf"""
      (?<!`)(?P<ticks>`++)(?P<code>.{{1,2000}}?)(?<!`)(?P=ticks)(?!`)
    | \[(?P<label>[^\[\]\n]+)\]\((?P<href>(?i:https?)://(?:[^\s<>\"`()]|\([^\s<>\"`()]*\))+)\)
    | <(?P<angle>{_URL})>
    | (?P<bare>{_URL})
    | \*\*(?P<strong>[^\s*](?:(?:(?!\*\*).)*?[^\s*])?)\*\*
    | ~~(?P<strike>[^\s~](?:(?:(?!~~).)*?[^\s~])?)~~
    | \*(?P<em>[^\s*](?:[^*]*?[^\s*])?)\*
    | (?<![^\W_])_(?P<em_>[^\s_](?:(?:[^_]|(?<=[^\W_])_(?=[^\W_]))*?[^\s_])?)_(?![^\W_])
    """,
    re.VERBOSE | re.DOTALL,
)
_TRAILING_PUNCT = ".,;:!?'\")]}"
_MAX_NESTING = 8
_EMPHASIS = {"strong": "strong", "strike": "del", "em": "em", "em_": "em"}
_BLOCK_SEPARATOR = "\n\n"  # also lets WordPress's wpautop rebuild paragraphs if <p> were filtered out


def _clean(text: str) -> str:
    """Valid Unicode, \\n line ends, no control characters but \\n and \\t, no bidi overrides."""
    text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")  # lone surrogates
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    return _BIDI_CONTROLS.sub("", text)


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


def _link(url: str, label: str | None = None) -> str:
    return f'<a href="{_escape(url)}" rel="nofollow ugc">{_escape(url) if label is None else label}</a>'


def _trim_url(url: str) -> str:
    """A bare URL without the sentence's punctuation: "(see https://x.org/a_(b))." → "https://x.org/a_(b)"."""
    end = len(url)
    while end and url[end - 1] in _TRAILING_PUNCT:
        if url[end - 1] == ")" and url.count("(", 0, end) >= url.count(")", 0, end):
            break
        end -= 1
    return url[:end]


def _has_host(url: str) -> bool:
    try:
        return bool(urlsplit(url).hostname)
    except ValueError:  # e.g. a malformed [IPv6] host
        return False


def _inline(text: str, depth: int = 0, links: bool = True) -> str:
    """Escape `text`, turning light markdown into tags; no tag can come from the text itself."""
    if depth > _MAX_NESTING:
        return _escape(text)
    out: list[str] = []
    pos = 0
    for m in _INLINE.finditer(text):
        out.append(_escape(text[pos : m.start()]))
        out.append(_markup(m, depth, links))
        pos = m.end()
    out.append(_escape(text[pos:]))
    return "".join(out)


def _markup(m: re.Match[str], depth: int, links: bool) -> str:
    """The HTML for one match of `_INLINE`."""
    kind = m.lastgroup or ""
    inner = m.group(kind) if kind else ""
    if kind == "code":
        return f"<code>{_escape(inner)}</code>"
    if kind in _EMPHASIS:
        tag = _EMPHASIS[kind]
        return f"<{tag}>{_inline(inner, depth + 1, links)}</{tag}>"
    if kind == "href" and links and _has_host(inner):
        return _link(inner, _inline(m.group("label"), depth + 1, links=False))
    if kind in ("angle", "bare") and links:
        url = inner if kind == "angle" else _trim_url(inner)
        if _has_host(url):
            return _link(url) + _escape(inner[len(url) :])
    return _escape(m.group())


def _paragraph(lines: list[str]) -> str:
    text = "\n".join(line.rstrip() for line in lines).strip()
    return "<p>" + _inline(text).replace("\n", "<br />\n") + "</p>"


def _code_block(lang: str, code: list[str]) -> str:
    cls = f' class="language-{_escape(lang)}"' if lang else ""
    body = _escape("\n".join(code))
    return f"<pre><code{cls}>{body}</code></pre>"


def _quote(lines: list[str], depth: int) -> list[str]:
    inner = _blocks(lines, depth + 1)
    return ["<blockquote>" + _BLOCK_SEPARATOR.join(inner) + "</blockquote>"] if inner else []


def _blocks(lines: list[str], depth: int = 0) -> list[str]:
    """Render lines as blocks: ``` code, `> ` quotes (`>>> ` quotes the rest), paragraphs.

    Quotes nest `_MAX_NESTING` deep at most; deeper `>` stay text.
    """
    lines = list(lines)
    blocks: list[str] = []
    para: list[str] = []

    def end_paragraph() -> None:
        if any(line.strip() for line in para):
            blocks.append(_paragraph(para))
        para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        if fence := _FENCE_OPEN.match(line):
            end_paragraph()
            code: list[str] = []
            i += 1
            while i < len(lines) and "```" not in lines[i]:
                code.append(lines[i])
                i += 1
            if i < len(lines):  # the closing line: what is before ``` is code, what is after is text
                before, _, after = lines[i].partition("```")
                code += [before] if before.strip() else []
                if after.strip():
                    lines[i] = after
                else:
                    i += 1
            blocks.append(_code_block(fence.group(1), code))
            continue
        quotes = depth < _MAX_NESTING
        if quotes and line.lstrip().startswith(">>> "):
            end_paragraph()
            blocks += _quote([line.lstrip()[4:], *lines[i + 1 :]], depth)
            break
        if quotes and _QUOTE_LINE.match(line):
            end_paragraph()
            quoted: list[str] = []
            while i < len(lines) and (quote := _QUOTE_LINE.match(lines[i])):
                quoted.append(lines[i][quote.end() :])
                i += 1
            blocks += _quote(quoted, depth)
            continue
        if line.strip():
            para.append(line)
        else:
            end_paragraph()
        i += 1
    end_paragraph()
    return blocks


def chat_text_to_site_html(text: str) -> str:
    """Turn a chat message (plain text with light markdown) into HTML safe to post as a comment.

    Blank-line-separated paragraphs become <p>, other newlines <br />; `**bold**`, `*em*`,
    `_em_`, `~~strike~~`, `` `code` ``, ``` blocks and `> ` quotes are kept as tags; bare
    http(s) URLs, `<https://...>` and `[text](https://...)` become nofollow links (no other
    scheme ever does). Control characters (but \\n, \\t), bidi overrides and lone surrogates go.
    """
    return _BLOCK_SEPARATOR.join(_blocks(_clean(text).split("\n")))


def quote_text(text: str) -> str:
    """Prefix every line of `text` with "> " (a quote of what is replied to)."""
    if not text:
        return ""
    return "\n".join("> " + line for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
