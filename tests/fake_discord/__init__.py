"""A protocol-level fake Discord (REST + gateway on one port) for testing the real discord.py."""

from tests.fake_discord.model import BOT_PERMISSIONS, MANAGE_GUILD, MANAGE_WEBHOOKS, Channel, Guild, Member, Message
from tests.fake_discord.server import FakeDiscord

__all__ = ["BOT_PERMISSIONS", "MANAGE_GUILD", "MANAGE_WEBHOOKS", "Channel", "FakeDiscord", "Guild", "Member", "Message"]
