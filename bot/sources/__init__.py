"""Site sources: one module per kind of site (see base.py for the interface they share)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import WordPressSite
    from bot.sources.base import SiteSource


def build_source(name: str, settings: WordPressSite) -> SiteSource:
    """The source for a configured site, by its `kind` (wordpress, html or feed)."""
    # Imported here: bot.config imports bot.sources.profiles, so this package must not import
    # bot.config (through the source modules) while it loads.
    from bot.config import FeedSite, HtmlSite
    from bot.sources.feed import FeedSource
    from bot.sources.html import HtmlSource
    from bot.sources.wordpress import WordPressSource

    if isinstance(settings, HtmlSite):
        return HtmlSource(name, settings)
    if isinstance(settings, FeedSite):
        return FeedSource(name, settings)
    return WordPressSource(name, settings)
