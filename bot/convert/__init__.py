"""Pure text converters: WordPress HTML → chat markdown / plain text, chat text → safe comment HTML,
mention neutralizing and message splitting. No I/O here."""

from bot.convert._unicode import valid_unicode
from bot.convert.markdown import html_to_markdown
from bot.convert.mentions import neutralize_mentions
from bot.convert.site_html import chat_text_to_site_html, quote_text
from bot.convert.split import split_message, split_utf8
from bot.convert.text import excerpt, html_to_text

__all__ = [
    "chat_text_to_site_html",
    "excerpt",
    "html_to_markdown",
    "html_to_text",
    "neutralize_mentions",
    "quote_text",
    "split_message",
    "split_utf8",
    "valid_unicode",
]
