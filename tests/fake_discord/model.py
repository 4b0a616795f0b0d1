"""The fake Discord's world: snowflakes, permissions, and the objects Discord's API returns.

Payloads follow Discord's documented object shapes (API v10): what discord.py parses must be
present, and nothing is invented that a real server would not send.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1420070400000

# Permission bits (https://discord.com/developers/docs/topics/permissions)
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
READ_MESSAGE_HISTORY = 1 << 16
MANAGE_WEBHOOKS = 1 << 29
USE_APPLICATION_COMMANDS = 1 << 31
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 51) - 1

BOT_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | CREATE_PUBLIC_THREADS
    | SEND_MESSAGES_IN_THREADS
    | MANAGE_THREADS
    | MANAGE_WEBHOOKS
    | READ_MESSAGE_HISTORY
)
MEMBER_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | SEND_MESSAGES_IN_THREADS
    | CREATE_PUBLIC_THREADS
    | READ_MESSAGE_HISTORY
    | EMBED_LINKS
    | USE_APPLICATION_COMMANDS
)

# Gateway intents
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT

# Application flags
APP_FLAG_GATEWAY_MESSAGE_CONTENT = 1 << 18
APP_FLAG_GATEWAY_MESSAGE_CONTENT_LIMITED = 1 << 19

# Channel types
GUILD_TEXT = 0
PUBLIC_THREAD = 11
GUILD_FORUM = 15
THREAD_TYPES = {10, 11, 12}

# Message types
DEFAULT = 0
THREAD_CREATED = 18
REPLY = 19
THREAD_STARTER_MESSAGE = 21

EPHEMERAL = 1 << 6


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def snowflake_time(snowflake: int) -> float:
    return ((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000


class Snowflakes:
    """Real-shaped ids: milliseconds since Discord's epoch, then a per-process increment."""

    def __init__(self) -> None:
        self._last = 0
        self._counter = itertools.count()

    def next(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        candidate = (ms << 22) | (next(self._counter) % 4096)
        self._last = max(self._last + 1, candidate)
        return self._last


@dataclass
class User:
    id: int
    username: str
    global_name: str | None = None
    bot: bool = False
    avatar: str | None = None

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": self.avatar,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
            "primary_guild": None,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass
class Role:
    id: int
    name: str
    permissions: int
    position: int = 0

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }


@dataclass
class Member:
    user: User
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: float = field(default_factory=time.time)

    @property
    def display_name(self) -> str:
        return self.nick or self.user.global_name or self.user.username

    def payload(self, with_user: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": iso(self.joined_at),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.payload()
        return data


@dataclass
class Overwrite:
    id: int
    type: int  # 0 role, 1 member
    allow: int = 0
    deny: int = 0

    def payload(self) -> dict[str, Any]:
        return {"id": str(self.id), "type": self.type, "allow": str(self.allow), "deny": str(self.deny)}


@dataclass
class Channel:
    id: int
    guild_id: int
    type: int
    name: str
    parent_id: int | None = None
    position: int = 0
    overwrites: list[Overwrite] = field(default_factory=list)
    # threads
    owner_id: int | None = None
    archived: bool = False
    locked: bool = False
    auto_archive_duration: int = 1440
    archive_timestamp: float = field(default_factory=time.time)
    created: float = field(default_factory=time.time)
    message_count: int = 0
    total_message_sent: int = 0
    last_message_id: int | None = None

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "flags": 0,
            "last_message_id": str(self.last_message_id) if self.last_message_id else None,
            "rate_limit_per_user": 0,
        }
        if self.is_thread:
            data.update(
                parent_id=str(self.parent_id),
                owner_id=str(self.owner_id),
                message_count=self.message_count,
                member_count=1,
                total_message_sent=self.total_message_sent,
                thread_metadata={
                    "archived": self.archived,
                    "auto_archive_duration": self.auto_archive_duration,
                    "archive_timestamp": iso(self.archive_timestamp),
                    "locked": self.locked,
                    "create_timestamp": iso(self.created),
                },
                applied_tags=[],
            )
            return data
        data.update(
            position=self.position,
            permission_overwrites=[o.payload() for o in self.overwrites],
            parent_id=str(self.parent_id) if self.parent_id else None,
            nsfw=False,
            topic=None,
            default_auto_archive_duration=1440,
            default_thread_rate_limit_per_user=0,
        )
        if self.type == GUILD_FORUM:
            data.update(
                available_tags=[],
                default_reaction_emoji=None,
                default_sort_order=None,
                default_forum_layout=0,
            )
        return data


@dataclass
class Webhook:
    id: int
    token: str
    channel_id: int
    guild_id: int
    name: str
    creator: User
    application_id: int | None

    def payload(self, with_token: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": 1,
            "guild_id": str(self.guild_id),
            "channel_id": str(self.channel_id),
            "name": self.name,
            "avatar": None,
            "application_id": str(self.application_id) if self.application_id else None,
            "user": self.creator.payload(),
        }
        if with_token:
            data["token"] = self.token
        return data


@dataclass
class Message:
    """One stored message; `payload()` is what REST and the gateway serve."""

    id: int
    channel_id: int
    guild_id: int
    author: User
    content: str
    type: int = DEFAULT
    timestamp: float = field(default_factory=time.time)
    edited_timestamp: float | None = None
    webhook_id: int | None = None
    webhook_name: str | None = None
    avatar_url: str | None = None
    application_id: int | None = None
    flags: int = 0
    nonce: str | None = None
    reference: dict[str, Any] | None = None
    mentions: list[User] = field(default_factory=list)
    allowed_mentions: dict[str, Any] | None = None
    interaction_id: int | None = None
    thread_id: int | None = None  # a thread started from this message
    deleted: bool = False
    history: list[str] = field(default_factory=list)  # earlier contents, oldest first

    @property
    def author_name(self) -> str:
        return self.webhook_name if self.webhook_id else (self.author.global_name or self.author.username)

    def payload(self, store: Any = None, *, blank_content: bool = False, with_nonce: bool = False) -> dict[str, Any]:
        if self.webhook_id:
            author: dict[str, Any] = {
                "id": str(self.webhook_id),
                "username": self.webhook_name,
                "discriminator": "0000",
                "global_name": None,
                "avatar": None,
                "bot": True,
                "public_flags": 0,
                "flags": 0,
            }
        else:
            author = self.author.payload()
        data: dict[str, Any] = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "type": self.type,
            "content": "" if blank_content else self.content,
            "author": author,
            "timestamp": iso(self.timestamp),
            "edited_timestamp": iso(self.edited_timestamp) if self.edited_timestamp else None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [u.payload() for u in self.mentions],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "flags": self.flags,
        }
        if self.webhook_id:
            data["webhook_id"] = str(self.webhook_id)
        if self.application_id:
            data["application_id"] = str(self.application_id)
        if with_nonce and self.nonce is not None:
            data["nonce"] = self.nonce
        if self.reference is not None:
            data["message_reference"] = self.reference
            referenced = None
            if store is not None and self.type == REPLY:
                target = store.messages.get(int(self.reference["message_id"]))
                if target is not None and not target.deleted:
                    referenced = target.payload(blank_content=blank_content)
            if self.type == REPLY:
                data["referenced_message"] = referenced
        if self.thread_id is not None and store is not None and self.thread_id in store.channels:
            data["thread"] = store.channels[self.thread_id].payload()
        return data


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "icon_hash": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "widget_enabled": False,
            "widget_channel_id": None,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": [r.payload() for r in self.roles.values()],
            "emojis": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "max_presences": None,
            "max_members": 500000,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "approximate_member_count": len(self.members),
            "nsfw_level": 0,
            "stickers": [],
            "premium_progress_bar_enabled": False,
            "safety_alerts_channel_id": None,
            "incidents_data": None,
            "nsfw": False,
        }


@dataclass
class Interaction:
    """An interaction the fake dispatched, and everything the app answered to it."""

    id: int
    token: str
    type: int
    guild_id: int
    channel_id: int
    user: User
    data: dict[str, Any]
    created: float = field(default_factory=time.monotonic)
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    followups: list[Message] = field(default_factory=list)
    original: Message | None = None

    @property
    def acknowledged(self) -> bool:
        return bool(self.callbacks)

    def replies(self) -> list[str]:
        """What the user saw: the callback message (or the edited original) and every followup."""
        texts = []
        if self.original is not None and self.original.content:
            texts.append(self.original.content)
        texts.extend(m.content for m in self.followups)
        return texts

    def all_ephemeral(self) -> bool:
        messages = ([self.original] if self.original else []) + self.followups
        return bool(messages) and all(m.flags & EPHEMERAL for m in messages)

    def choices(self) -> list[dict[str, Any]]:
        for callback in self.callbacks:
            if callback["type"] == 8:
                return list(callback["data"]["choices"])
        return []
