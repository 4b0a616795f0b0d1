"""Site sources: one module per kind of site (see base.py for the interface they share)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import WordPressSite
    from bot.sources.base import SiteSource


def build_source(name: str, settings: WordPressSite, allow_private: Sequence[str] = ()) -> SiteSource:
    """The source for a configured site, by its `kind` (wordpress, html or feed); it may fetch
    internal addresses only from `allow_private` and its own host if configured by address."""
    # Imported here: bot.config imports bot.sources.profiles, so this package must not import
    # bot.config (through the source modules) while it loads.
    from bot.config import FeedSite, HtmlSite
    from bot.sources.feed import FeedSource
    from bot.sources.guard import AddressPolicy
    from bot.sources.html import HtmlSource
    from bot.sources.wordpress import WordPressSource

    policy = AddressPolicy.build(allow_private, [settings.url])
    if isinstance(settings, HtmlSite):
        return HtmlSource(name, settings, policy=policy)
    if isinstance(settings, FeedSite):
        return FeedSource(name, settings, policy=policy)
    return WordPressSource(name, settings, policy=policy)
