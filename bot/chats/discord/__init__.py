"""The Discord chat adapter (discord.py): see `adapter.DiscordChat` and docs/discord.md."""

from bot.chats.discord.adapter import DiscordChat

__all__ = ["DiscordChat"]
