"""Chat platforms. `build_chats` makes an adapter for every chat enabled in the config."""

from __future__ import annotations

import sys

from bot.chats.base import ChatAdapter
from bot.config import Config
from bot.store import Store


def build_chats(config: Config, store: Store, interactive: bool) -> dict[str, ChatAdapter]:
    """Adapters keyed by their name under `chats:`; platform libraries are imported only when used."""
    chats: dict[str, ChatAdapter] = {}
    settings = config.chats
    if settings.terminal is not None and settings.terminal.enabled:
        from bot.chats.terminal import TerminalChat

        chats["terminal"] = TerminalChat(settings.terminal, input_stream=sys.stdin if interactive else None)
    if settings.discord is not None and settings.discord.enabled:
        from bot.chats.discord import DiscordChat

        chats["discord"] = DiscordChat(settings.discord, store)
    if settings.matrix is not None and settings.matrix.enabled:
        from bot.chats.matrix import MatrixChat

        chats["matrix"] = MatrixChat(settings.matrix, store)
    return chats
