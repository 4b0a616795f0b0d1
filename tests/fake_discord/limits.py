"""What the fake Discord refuses: Discord's documented limits (400) and rate limits (429).

Errors use Discord's JSON error shape: `{"code": ..., "message": ..., "errors": {...}}`.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

MESSAGE_CONTENT_MAX = 2000
NONCE_MAX = 25
WEBHOOK_NAME_MAX = 80
THREAD_NAME_MAX = 100
AUTO_ARCHIVE_DURATIONS = {60, 1440, 4320, 10080}
COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")
COMMAND_DESCRIPTION_MAX = 100
COMMAND_OPTIONS_MAX = 25
COMMAND_CHOICES_MAX = 25
COMMANDS_MAX = 100
ALLOWED_MENTION_PARSE = {"roles", "users", "everyone"}


class ApiError(Exception):
    """An error response: HTTP status, Discord's JSON error code and message."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            data["errors"] = self.errors
        return data


def not_found(code: int = 0, message: str = "404: Not Found") -> ApiError:
    return ApiError(404, code, message)


UNKNOWN_CHANNEL = (10003, "Unknown Channel")
UNKNOWN_GUILD = (10004, "Unknown Guild")
UNKNOWN_MEMBER = (10007, "Unknown Member")
UNKNOWN_MESSAGE = (10008, "Unknown Message")
UNKNOWN_WEBHOOK = (10015, "Unknown Webhook")
UNKNOWN_INTERACTION = (10062, "Unknown interaction")
UNKNOWN_COMMAND = (10063, "Unknown application command")


def unknown(what: tuple[int, str]) -> ApiError:
    return ApiError(404, what[0], what[1])


def missing_permissions() -> ApiError:
    return ApiError(403, 50013, "Missing Permissions")


def missing_access() -> ApiError:
    return ApiError(403, 50001, "Missing Access")


def archived_thread() -> ApiError:
    return ApiError(400, 50083, "Thread is archived")


class FormErrors:
    """Collects field problems into Discord's nested `errors` object (code 50035)."""

    def __init__(self) -> None:
        self.errors: dict[str, Any] = {}

    def add(self, path: str, code: str, message: str) -> None:
        node = self.errors
        for part in path.split("."):
            node = node.setdefault(part, {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def max_length(self, path: str, value: str, limit: int) -> None:
        if len(value) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def length_between(self, path: str, value: str, low: int, high: int) -> None:
        if not low <= len(value) <= high:
            self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")

    def raise_if_any(self) -> None:
        if self.errors:
            raise ApiError(400, 50035, "Invalid Form Body", self.errors)


def _string(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    return value if isinstance(value, str) else None


def check_message_body(body: dict[str, Any], form: FormErrors, prefix: str = "") -> None:
    """content, nonce and allowed_mentions of a message create/edit payload."""
    content = _string(body, "content")
    if content is not None:
        form.max_length(prefix + "content", content, MESSAGE_CONTENT_MAX)
    nonce = body.get("nonce")
    if isinstance(nonce, str):
        form.max_length(prefix + "nonce", nonce, NONCE_MAX)
    elif nonce is not None and not isinstance(nonce, int):
        form.add(prefix + "nonce", "NONCE_TYPE_INVALID", "Nonce must be a string or an integer.")
    mentions = body.get("allowed_mentions")
    if mentions is not None:
        if not isinstance(mentions, dict):
            form.add(prefix + "allowed_mentions", "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            return
        parse = mentions.get("parse", [])
        for index, value in enumerate(parse):
            if value not in ALLOWED_MENTION_PARSE:
                form.add(
                    f"{prefix}allowed_mentions.parse.{index}",
                    "BASE_TYPE_CHOICES",
                    f"Value must be one of {sorted(ALLOWED_MENTION_PARSE)}.",
                )
        for kind in ("users", "roles"):
            if kind in parse and mentions.get(kind):
                form.add(
                    f"{prefix}allowed_mentions",
                    "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                    f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
                )
            if len(mentions.get(kind) or []) > 100:
                form.max_length(f"{prefix}allowed_mentions.{kind}", "x" * 101, 100)


def message_is_empty(body: dict[str, Any]) -> bool:
    return not (
        body.get("content")
        or body.get("embeds")
        or body.get("sticker_ids")
        or body.get("attachments")
        or body.get("poll")
        or body.get("components")
    )


def empty_message() -> ApiError:
    return ApiError(400, 50006, "Cannot send an empty message")


def check_webhook_name(form: FormErrors, path: str, name: str) -> None:
    """Webhook names and webhook execution usernames: 1-80 characters, no 'clyde' or 'discord'."""
    trimmed = " ".join(name.split())
    form.length_between(path, trimmed, 1, WEBHOOK_NAME_MAX)
    lowered = trimmed.lower()
    for word in ("clyde", "discord"):
        if word in lowered:
            form.add(path, "USERNAME_INVALID_CONTAINS", f'Username cannot contain "{word}"')
    if lowered in ("everyone", "here"):
        form.add(path, "USERNAME_INVALID", "Username is not allowed")


def check_thread_name(form: FormErrors, path: str, name: Any) -> None:
    if not isinstance(name, str):
        form.add(path, "BASE_TYPE_REQUIRED", "This field is required")
        return
    form.length_between(path, name, 1, THREAD_NAME_MAX)


def check_auto_archive(form: FormErrors, path: str, value: Any) -> None:
    if value is not None and value not in AUTO_ARCHIVE_DURATIONS:
        form.add(path, "BASE_TYPE_CHOICES", f"Value must be one of {sorted(AUTO_ARCHIVE_DURATIONS)}.")


def check_command(form: FormErrors, path: str, command: dict[str, Any]) -> None:
    name = command.get("name")
    if not isinstance(name, str) or not COMMAND_NAME.match(name) or name != name.lower():
        form.add(f"{path}.name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
    kind = command.get("type", 1)
    description = command.get("description", "")
    if kind == 1:
        form.length_between(f"{path}.description", description or "", 1, COMMAND_DESCRIPTION_MAX)
    perms = command.get("default_member_permissions")
    if perms is not None and not isinstance(perms, int) and not (isinstance(perms, str) and perms.isdigit()):
        form.add(f"{path}.default_member_permissions", "NUMBER_TYPE_COERCE", "Value is not int.")
    check_options(form, f"{path}.options", command.get("options") or [])


def check_options(form: FormErrors, path: str, options: list[dict[str, Any]]) -> None:
    if len(options) > COMMAND_OPTIONS_MAX:
        form.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {COMMAND_OPTIONS_MAX} or fewer in length.")
    seen_optional = False
    for index, option in enumerate(options):
        where = f"{path}.{index}"
        name = option.get("name")
        if not isinstance(name, str) or not COMMAND_NAME.match(name) or name != name.lower():
            form.add(f"{where}.name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        form.length_between(f"{where}.description", option.get("description") or "", 1, COMMAND_DESCRIPTION_MAX)
        kind = option.get("type")
        if kind not in range(1, 12):
            form.add(f"{where}.type", "BASE_TYPE_CHOICES", "Value must be one of (1..11).")
        if kind in (1, 2):
            check_options(form, f"{where}.options", option.get("options") or [])
            continue
        if option.get("required"):
            if seen_optional:
                form.add(
                    where,
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            seen_optional = True
        choices = option.get("choices") or []
        if len(choices) > COMMAND_CHOICES_MAX:
            form.add(f"{where}.choices", "BASE_TYPE_MAX_LENGTH", f"Must be {COMMAND_CHOICES_MAX} or fewer in length.")
        if choices and option.get("autocomplete"):
            form.add(
                f"{where}.autocomplete",
                "APPLICATION_COMMAND_AUTOCOMPLETE_INVALID",
                "Autocomplete cannot be set with choices",
            )


def check_choices(form: FormErrors, choices: Any) -> None:
    if not isinstance(choices, list):
        form.add("data.choices", "BASE_TYPE_REQUIRED", "This field is required")
        return
    if len(choices) > COMMAND_CHOICES_MAX:
        form.add("data.choices", "BASE_TYPE_MAX_LENGTH", f"Must be {COMMAND_CHOICES_MAX} or fewer in length.")
    for index, choice in enumerate(choices):
        form.length_between(f"data.choices.{index}.name", str(choice.get("name", "")), 1, 100)


# -- rate limits -------------------------------------------------------------------------


@dataclass
class Window:
    limit: int
    per: float
    used: int = 0
    resets_at: float = 0.0


@dataclass
class Forced429:
    bucket: str
    count: int
    retry_after: float
    via: bool = True
    is_global: bool = False


@dataclass
class RateLimiter:
    """Fixed windows per (bucket, major parameter), with Discord's X-RateLimit-* headers on every answer.

    Buckets not configured get a generous default, so their headers are still real-shaped.
    """

    limits: dict[str, tuple[int, float]] = field(default_factory=dict)
    default: tuple[int, float] = (1000, 1.0)
    windows: dict[tuple[str, str], Window] = field(default_factory=dict)
    forced: list[Forced429] = field(default_factory=list)
    served_429: int = 0
    log: list[tuple[float, str, str, int]] = field(default_factory=list)  # (time, bucket, major, status)

    def configure(self, bucket: str, limit: int, per: float) -> None:
        self.limits[bucket] = (limit, per)
        for (name, _), window in list(self.windows.items()):
            if name == bucket:
                window.limit, window.per = limit, per

    @staticmethod
    def bucket_hash(bucket: str) -> str:
        return hashlib.sha256(bucket.encode()).hexdigest()[:32]

    def _window(self, bucket: str, major: str, now: float) -> Window:
        key = (bucket, major)
        window = self.windows.get(key)
        if window is None:
            limit, per = self.limits.get(bucket, self.default)
            window = self.windows[key] = Window(limit, per)
        if now >= window.resets_at:
            window.used = 0
            window.resets_at = now + window.per
        return window

    def headers(self, bucket: str, window: Window, now: float) -> dict[str, str]:
        reset_after = max(0.0, window.resets_at - now)
        return {
            "X-RateLimit-Limit": str(window.limit),
            "X-RateLimit-Remaining": str(max(0, window.limit - window.used)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": self.bucket_hash(bucket),
        }

    def check(self, bucket: str, major: str) -> tuple[dict[str, str], tuple[dict[str, Any], dict[str, str]] | None]:
        """Count a request; returns its headers and, when it must be refused, the 429 body and headers."""
        now = time.monotonic()
        window = self._window(bucket, major, now)
        for rule in self.forced:
            if rule.count > 0 and rule.bucket in (bucket, "*"):
                rule.count -= 1
                return {}, self._too_many(bucket, window, rule.retry_after, now, via=rule.via, is_global=rule.is_global)
        if window.used >= window.limit:
            retry_after = max(0.001, window.resets_at - now)
            return {}, self._too_many(bucket, window, retry_after, now, via=True, is_global=False)
        window.used += 1
        return self.headers(bucket, window, now), None

    def _too_many(
        self, bucket: str, window: Window, retry_after: float, now: float, *, via: bool, is_global: bool
    ) -> tuple[dict[str, Any], dict[str, str]]:
        self.served_429 += 1
        retry_after = round(retry_after, 3)
        body: dict[str, Any] = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": is_global,
        }
        headers = {"Retry-After": str(math.ceil(retry_after)), "X-RateLimit-Scope": "global" if is_global else "user"}
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        else:
            headers.update(self.headers(bucket, window, now))
            headers["X-RateLimit-Remaining"] = "0"
            headers["X-RateLimit-Reset-After"] = f"{retry_after:.3f}"
        if via:
            headers["Via"] = "1.1 google"
        return body, headers
