"""Small ports of the WordPress text filters the sample site needs.

WordPress stores a comment's text raw and renders it on output with the `comment_text` filters:
`make_clickable`, `wptexturize`, `convert_chars`, `convert_smilies`, `wpautop`. These are compact
Python versions of them, close enough that the HTML the sample site serves looks like WordPress's
(curly quotes as `&#8217;`, lone `&` as `&#038;`, `<p>` paragraphs, `<br />` for single newlines).
Also the save-time filters: `sanitize_text_field` + `_wp_specialchars` for author names and
`wp_rel_ugc` for links in comment content.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

__all__ = [
    "avatar_urls",
    "comment_text",
    "convert_chars",
    "convert_smilies",
    "format_wp_date",
    "make_clickable",
    "mysql_to_rfc3339",
    "rel_ugc",
    "sanitize_author_name",
    "wpautop",
    "wptexturize",
]

_ALLBLOCKS = (
    r"(?:table|thead|tfoot|caption|col|colgroup|tbody|tr|td|th|div|dl|dd|dt|ul|ol|li|pre|form|map|area"
    r"|blockquote|address|math|style|p|h[1-6]|hr|fieldset|legend|section|article|aside|hgroup|header"
    r"|footer|nav|figure|figcaption|details|menu|summary)"
)
_TAG_RE = re.compile(r"(<[^>]*>)")
_NO_TEXTURIZE = frozenset({"pre", "code", "kbd", "style", "script", "tt"})


def _split_tags(text: str) -> list[str]:
    """Split into alternating text / tag pieces (tags are the odd items)."""
    return _TAG_RE.split(text)


def _map_text_outside(text: str, fn: Callable[[str], str], *, skip_in_links: bool = False) -> str:
    """Apply `fn` to text outside tags and outside code-like elements (and `<a>` when asked)."""
    pieces = _split_tags(text)
    stack: list[str] = []
    out: list[str] = []
    for i, piece in enumerate(pieces):
        if i % 2 == 1:
            m = re.match(r"<\s*(/?)\s*([a-zA-Z0-9]+)", piece)
            if m:
                name = m.group(2).lower()
                watched = name in _NO_TEXTURIZE or (skip_in_links and name == "a")
                if watched and not piece.endswith("/>"):
                    if m.group(1):
                        if name in stack:
                            del stack[len(stack) - 1 - stack[::-1].index(name)]
                    else:
                        stack.append(name)
            out.append(piece)
        elif stack or not piece:
            out.append(piece)
        else:
            out.append(fn(piece))
    return "".join(out)


# --- wptexturize ---------------------------------------------------------------------------------

_DASHES = [
    (re.compile(r"---"), "&#8212;"),
    (re.compile(r"(?<=\s)--(?=\s)"), "&#8212;"),
    (re.compile(r"--"), "&#8211;"),
    (re.compile(r"(?<=\s)-(?=\s)"), "&#8211;"),
]


def _texturize_text(text: str) -> str:
    text = text.replace("...", "&#8230;")
    text = text.replace("``", "&#8220;").replace("''", "&#8221;")
    text = re.sub(r"(?<=\s)\(tm\)", "&#8482;", text)
    for pattern, repl in _DASHES:
        text = pattern.sub(repl, text)
    # Apostrophes inside words and after digits ("it's", "90's").
    text = re.sub(r"(?<=[\w.,!?])'(?=\w)", "&#8217;", text)
    # Opening single quotes after whitespace/start/brackets, the rest close.
    text = re.sub(r"(?:(?<=^)|(?<=[\s(\[{\"-]))'", "&#8216;", text)
    text = text.replace("'", "&#8217;")
    # Double quotes.
    text = re.sub(r"(?:(?<=^)|(?<=[\s(\[{-]))\"", "&#8220;", text)
    text = text.replace('"', "&#8221;")
    return text


def wptexturize(text: str) -> str:
    """Curly quotes, dashes and ellipses in text outside tags and code, like WordPress's `wptexturize`."""
    return _map_text_outside(text, _texturize_text)


def convert_chars(text: str) -> str:
    """Lone `&` (not starting an entity) becomes `&#038;`, everywhere, attributes included."""
    return re.sub(r"&(?!#(?:\d+|x[a-fA-F0-9]+);|[a-zA-Z][a-zA-Z0-9]{0,31};)", "&#038;", text)


# --- make_clickable ------------------------------------------------------------------------------

_URL_RE = re.compile(r"(?<![\w/\"'=])(https?://[^\s<>\"']+)")


def _clickable_text(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        url = m.group(1)
        trail = ""
        while url and url[-1] in ".,;:!?)":
            if url[-1] == ")" and url.count("(") >= url.count(")"):
                break
            trail = url[-1] + trail
            url = url[:-1]
        return f'<a href="{url}" rel="nofollow">{url}</a>{trail}'

    return _URL_RE.sub(repl, text)


def make_clickable(text: str) -> str:
    """Bare http(s) URLs in text become links with `rel="nofollow"`, like WordPress's `make_clickable`."""
    return _map_text_outside(text, _clickable_text, skip_in_links=True)


# --- convert_smilies -----------------------------------------------------------------------------

# WordPress maps some smilies to images and the rest straight to emoji.
_SMILIES: dict[str, str] = {
    ":-)": "simple-smile.png",
    ":)": "simple-smile.png",
    ":-(": "frownie.png",
    ":(": "frownie.png",
    ":-D": "\U0001f600",
    ":D": "\U0001f600",
    ";-)": "\U0001f609",
    ";)": "\U0001f609",
    ":-P": "\U0001f61b",
    ":P": "\U0001f61b",
    ":o": "\U0001f62e",
    ":lol:": "\U0001f606",
}
_SMILEY_RE = re.compile(
    r"(?:(?<=\s)|(?<=^))("
    + "|".join(re.escape(s) for s in sorted(_SMILIES, key=len, reverse=True))
    + r")(?=\s|$)"
)


def convert_smilies(text: str, site_url: str = "") -> str:
    """Text smilies to WordPress's smiley images or emoji (`use_smilies` is on by default)."""

    def repl(m: re.Match[str]) -> str:
        smiley = m.group(1)
        img = _SMILIES[smiley]
        if not img.endswith(".png"):
            return img
        src = f"{site_url}/wp-includes/images/smilies/{img}"
        alt = html.escape(smiley, quote=True)
        return f'<img src="{src}" alt="{alt}" class="wp-smiley" style="height: 1em; max-height: 1em;" />'

    return _map_text_outside(text, lambda t: _SMILEY_RE.sub(repl, t))


# --- wpautop -------------------------------------------------------------------------------------


def wpautop(text: str, br: bool = True) -> str:
    """Port of WordPress's `wpautop`: paragraphs from blank lines, `<br />` for single newlines."""
    if text.strip() == "":
        return ""
    text = text + "\n"
    pre_tags: dict[str, str] = {}
    if "<pre" in text:
        parts = text.split("</pre>")
        last = parts.pop()
        rebuilt = []
        for i, part in enumerate(parts):
            start = part.find("<pre")
            if start == -1:
                rebuilt.append(part)
                continue
            name = f'<pre wp-pre-tag-{i}"></pre>'
            pre_tags[name] = part[start:] + "</pre>"
            rebuilt.append(part[:start] + name)
        text = "".join(rebuilt) + last
    text = re.sub(r"<br\s*/?>\s*<br\s*/?>", "\n\n", text)
    text = re.sub(r"(<" + _ALLBLOCKS + r"[\s/>])", "\n\n\\1", text)
    text = re.sub(r"(</" + _ALLBLOCKS + r">)", "\\1\n\n", text)
    text = re.sub(r"(<hr\s*?/?>)", "\\1\n\n", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Newlines inside tags get a placeholder.
    text = _TAG_RE.sub(lambda m: m.group(1).replace("\n", " <!-- wpnl --> "), text)
    text = re.sub(r"\n\n+", "\n\n", text)
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p]
    text = "".join("<p>" + p.strip("\n") + "</p>\n" for p in paragraphs)
    text = re.sub(r"<p>\s*</p>", "", text)
    text = re.sub(r"<p>([^<]+)</(div|address|form)>", r"<p>\1</p></\2>", text)
    text = re.sub(r"<p>\s*(</?" + _ALLBLOCKS + r"[^>]*>)\s*</p>", r"\1", text)
    text = re.sub(r"<p>(<li.+?)</p>", r"\1", text)
    text = re.sub(r"<p><blockquote([^>]*)>", r"<blockquote\1><p>", text, flags=re.IGNORECASE)
    text = text.replace("</blockquote></p>", "</p></blockquote>")
    text = re.sub(r"<p>\s*(</?" + _ALLBLOCKS + r"[^>]*>)", r"\1", text)
    text = re.sub(r"(</?" + _ALLBLOCKS + r"[^>]*>)\s*</p>", r"\1", text)
    if br:
        text = text.replace("<br>", "<br />").replace("<br/>", "<br />")
        text = re.sub(r"(?<!<br />)\s*\n", "<br />\n", text)
    text = re.sub(r"(</?" + _ALLBLOCKS + r"[^>]*>)\s*<br />", r"\1", text)
    text = re.sub(r"<br />(\s*</?(?:p|li|div|dl|dd|dt|th|pre|td|ul|ol)[^>]*>)", r"\1", text)
    text = re.sub(r"\n</p>$", "</p>", text)
    for name, original in pre_tags.items():
        text = text.replace(name, original)
    if "<!-- wpnl -->" in text:
        text = text.replace(" <!-- wpnl --> ", "\n").replace("<!-- wpnl -->", "\n")
    return text


def comment_text(raw: str, site_url: str = "") -> str:
    """What WordPress serves as a comment's `content.rendered` for the stored raw text."""
    text = make_clickable(raw)
    text = wptexturize(text)
    text = convert_chars(text)
    text = convert_smilies(text, site_url)
    return wpautop(text)


# --- save-time filters ---------------------------------------------------------------------------


def sanitize_author_name(name: str) -> str:
    """`sanitize_text_field` then `_wp_specialchars`: strip tags, collapse whitespace, escape `& < >`."""
    name = re.sub(r"<[^>]*>", "", name)
    name = re.sub(r"[\r\n\t ]+", " ", name).strip()
    name = re.sub(r"&(?!#?\w+;)", "&amp;", name)
    return name.replace("<", "&lt;").replace(">", "&gt;")


def rel_ugc(content: str, home_host: str) -> str:
    """WordPress's `wp_rel_ugc` on saved comments: links to other hosts get `rel="nofollow ugc"`."""

    def repl(m: re.Match[str]) -> str:
        attrs = m.group(1).rstrip("/").strip()
        href = re.search(r"""href\s*=\s*["']([^"']*)["']""", attrs, re.IGNORECASE)
        if href:
            parts = urlsplit(href.group(1))
            if parts.scheme in ("http", "https") and parts.hostname == home_host:
                return m.group(0)
        rel = re.search(r"""\srel\s*=\s*["']([^"']*)["']""", " " + attrs, re.IGNORECASE)
        if rel:
            values = rel.group(1).split()
            for value in ("nofollow", "ugc"):
                if value not in values:
                    values.append(value)
            attrs = re.sub(
                r"""rel\s*=\s*["'][^"']*["']""", f'rel="{" ".join(values)}"', attrs, count=1, flags=re.I
            )
            return f"<a {attrs}>"
        return f'<a {attrs} rel="nofollow ugc">'

    return re.sub(r"<a\s+([^>]*)>", repl, content, flags=re.IGNORECASE)


# --- misc ----------------------------------------------------------------------------------------


def avatar_urls(email: str) -> dict[str, str]:
    """`author_avatar_urls` as WordPress builds them over plain HTTP (sizes 24, 48, 96)."""
    email_hash = hashlib.md5(email.strip().lower().encode()).hexdigest() if email else ""
    server = int(email_hash[0], 16) % 3 if email_hash else 0
    return {
        str(size): f"http://{server}.gravatar.com/avatar/{email_hash}?s={size}&d=mm&r=g"
        for size in (24, 48, 96)
    }


def mysql_to_rfc3339(moment: datetime) -> str:
    """WordPress's date fields: `2026-11-26T03:11:55`, no zone, whole seconds."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def format_wp_date(moment: datetime) -> str:
    """The default date and time format of WordPress themes: `November 26, 2026 at 3:11 am`."""
    hour = moment.hour % 12 or 12
    meridian = "am" if moment.hour < 12 else "pm"
    return f"{moment:%B} {moment.day}, {moment.year} at {hour}:{moment:%M} {meridian}"
