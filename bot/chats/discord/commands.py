"""Slash commands: `/mirror add|remove|list|pause|resume|status`, synced per configured guild.

Each command only collects its options and hands them to `CommandHost.run_command`, which
turns them into the platform-neutral `CommandCall` that `bot.commands` answers (and checks
Manage Server again: `default_member_permissions` only hides commands, server admins can
re-grant them to anyone).

`/summarize` is for everyone; its answer is private to the asker unless an admin asks for it
to be public.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

import discord
from discord import app_commands

ADMIN = discord.Permissions(manage_guild=True)


class CommandHost(Protocol):
    async def run_command(self, interaction: discord.Interaction, name: str, args: dict[str, str]) -> None: ...

    async def mirror_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]: ...

    async def command_failed(self, interaction: discord.Interaction, error: Exception) -> None: ...


class MirrorCommands(app_commands.Group):
    """`/mirror ...`: admin commands, hidden from members without Manage Server by default."""

    def __init__(self, host: CommandHost) -> None:
        super().__init__(
            name="mirror",
            description="Mirror website comment threads into this server",
            default_permissions=ADMIN,
            guild_only=True,
        )
        self.host = host

    async def _names(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await self.host.mirror_choices(interaction, current)

    @app_commands.command(name="add", description="Mirror a page's (or a whole site's) comments into a channel")
    @app_commands.describe(
        url="the page, or the site's address for all its pages",
        channel="where the threads go (default: this channel)",
        mode="one thread per page, or one per top-level comment",
        relay="post replies from here on the site: approved at once, held for moderation, or not at all",
        name="a short name for the mirror (default: made from the URL)",
    )
    async def add(
        self,
        interaction: discord.Interaction,
        url: str,
        channel: discord.TextChannel | discord.ForumChannel | None = None,
        mode: Literal["page", "comment"] = "page",
        relay: Literal["approved", "pending", "off"] = "approved",
        name: str | None = None,
    ) -> None:
        args = {"url": url, "mode": mode, "relay": relay}
        if channel is not None:
            args["channel"] = str(channel.id)
        if name:
            args["name"] = name
        await self.host.run_command(interaction, "mirror add", args)

    @app_commands.command(name="remove", description="Stop mirroring and forget a mirror (threads stay)")
    @app_commands.describe(name="the mirror")
    async def remove(self, interaction: discord.Interaction, name: str) -> None:
        await self.host.run_command(interaction, "mirror remove", {"name": name})

    @app_commands.command(name="list", description="List the mirrors")
    async def list_(self, interaction: discord.Interaction) -> None:
        await self.host.run_command(interaction, "mirror list", {})

    @app_commands.command(name="pause", description="Pause a mirror (nothing is mirrored or relayed for it)")
    @app_commands.describe(name="the mirror")
    async def pause(self, interaction: discord.Interaction, name: str) -> None:
        await self.host.run_command(interaction, "mirror pause", {"name": name})

    @app_commands.command(name="resume", description="Resume a paused mirror and catch up")
    @app_commands.describe(name="the mirror")
    async def resume(self, interaction: discord.Interaction, name: str) -> None:
        await self.host.run_command(interaction, "mirror resume", {"name": name})

    @app_commands.command(name="status", description="Health of the sites, chats, deliveries and mirrors")
    @app_commands.describe(name="one mirror (default: all)")
    async def status(self, interaction: discord.Interaction, name: str | None = None) -> None:
        await self.host.run_command(interaction, "mirror status", {"name": name} if name else {})

    remove.autocomplete("name")(_names)
    pause.autocomplete("name")(_names)
    resume.autocomplete("name")(_names)
    status.autocomplete("name")(_names)


def summarize_command(host: CommandHost) -> app_commands.Command[Any, ..., None]:
    @app_commands.command(name="summarize", description="Summarize this thread's discussion")
    @app_commands.guild_only()
    @app_commands.describe(length="a short or a long summary", public="post it for everyone (admins only)")
    async def summarize(
        interaction: discord.Interaction, length: Literal["short", "long"] = "short", public: bool = False
    ) -> None:
        await host.run_command(interaction, "summarize", {"length": length, "public": "yes" if public else "no"})

    return summarize


class Tree(app_commands.CommandTree[discord.Client]):
    host: CommandHost

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        await self.host.command_failed(interaction, error)


def build_tree(client: discord.Client, host: CommandHost, guild_ids: list[int]) -> Tree:
    """The command tree: commands go to each configured guild, or globally when none is configured."""
    tree = Tree(client)
    tree.host = host
    guilds = [discord.Object(id=g) for g in guild_ids]
    for command in (MirrorCommands(host), summarize_command(host)):
        if guilds:
            tree.add_command(command, guilds=guilds)
        else:
            tree.add_command(command)
    return tree
