"""Loading and validating `config.yaml`.

Every problem becomes one `ConfigError` line that names the file, the key, what is
wrong and how to fix it. Secrets are written as `${ENV_VAR}` and come from the
environment or a secrets file (KEY=VALUE lines); they are kept as `SecretStr` so
they never print.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
NAME = r"^[a-z0-9][a-z0-9_.-]{0,62}$"


class ConfigError(Exception):
    """A config problem explained in one line: file, key, problem, fix."""

    def __init__(self, file: str, key: str, problem: str, fix: str) -> None:
        self.file, self.key, self.problem, self.fix = file, key, problem, fix
        super().__init__(f"{file}: {key or '(top level)'}: {problem}; fix: {fix}")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WordPressSite(Strict):
    kind: Literal["wordpress"] = "wordpress"
    url: str
    username: str | None = None
    app_password: SecretStr | None = None
    poll_interval: float = Field(60.0, ge=0.5, description="seconds between polls")
    edit_window_hours: float = Field(48.0, ge=0, description="how far back edits and deletions are noticed")
    recheck_interval: float = Field(300.0, ge=1, description="seconds between re-reads of the edit window")
    request_timeout: float = Field(20.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise _RefError(
                None,
                f"not an http(s) URL: {value!r}",
                "write the site's address, e.g. https://blog.example.org/",
            )
        return value.rstrip("/") + "/"

    @model_validator(mode="after")
    def _credentials_pair(self) -> WordPressSite:
        if (self.username is None) != (self.app_password is None):
            raise _RefError(
                None,
                "username and app_password go together",
                "set both to relay replies to the site, or neither to only read it",
            )
        return self

    @property
    def can_post(self) -> bool:
        return self.app_password is not None


class TerminalChat(Strict):
    enabled: bool = True
    user_name: str = Field(default_factory=lambda: os.environ.get("USER", "You") or "You")
    color: bool | None = None  # None: colour when stdout is a terminal


class MatrixChat(Strict):
    """The Matrix adapter (bot/chats/matrix.py). Owned by the Matrix issue; fields may grow."""

    enabled: bool = True
    homeserver: str = Field(description="the homeserver's client API base URL, e.g. https://matrix.example.org")
    user_id: str = Field(pattern=r"^@[^:]+:.+$", description="the bot's Matrix id, e.g. @mirror:example.org")
    access_token: SecretStr | None = None
    password: SecretStr | None = None
    device_name: str = "thread-mirror"
    rooms: list[str] = Field(default_factory=list, description="rooms to join at start")
    admins: list[str] = Field(default_factory=list, description="Matrix ids allowed to use admin commands")
    admin_power_level: int = 50

    @model_validator(mode="after")
    def _one_login(self) -> MatrixChat:
        if self.access_token is None and self.password is None:
            raise _RefError(None, "no way to log in", "set access_token (or password) from an environment variable")
        return self


class DiscordChat(Strict):
    """The Discord adapter (bot/chats/discord.py). Owned by the Discord issue; fields may grow."""

    enabled: bool = True
    token: SecretStr
    guilds: list[int] = Field(default_factory=list, description="guild ids to sync slash commands to")
    api_base: str | None = Field(None, description="override Discord's API URL (tests, proxies)")


class Chats(Strict):
    terminal: TerminalChat | None = None
    matrix: MatrixChat | None = None
    discord: DiscordChat | None = None


class Target(Strict):
    chat: str = Field(description="a chat adapter configured under chats:")
    channel: str = Field(description="where threads are made: a Discord channel id, a Matrix room id, ...")


class Mirror(Strict):
    name: Annotated[str, Field(pattern=NAME)]
    site: str
    pages: Literal["all"] | list[int | str] = "all"
    url_pattern: str | None = None
    thread_per: Literal["page", "comment"] = "page"
    relay: Literal["off", "approved", "pending"] = "approved"

    @field_validator("relay", mode="before")
    @classmethod
    def _yaml_off(cls, value: object) -> object:
        return "off" if value is False else value  # YAML 1.1 reads a bare `off` as false

    targets: list[Target] = Field(min_length=1)
    backfill_days: float | None = Field(
        None, ge=0, description="how far back to mirror existing comments when the mirror starts; none = all"
    )


class Store(Strict):
    path: str = "thread-mirror.db"


class Config(Strict):
    store: Store = Store()
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    secrets_file: str | None = None
    sites: dict[Annotated[str, Field(pattern=NAME)], WordPressSite] = Field(min_length=1)
    chats: Chats = Chats()
    mirrors: list[Mirror] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> Config:
        chat_names = {
            name for name, chat in self.chats if chat is not None and getattr(chat, "enabled", True)
        }
        seen: set[str] = set()
        for index, mirror in enumerate(self.mirrors):
            where = f"mirrors[{index}]"
            if mirror.name in seen:
                raise _RefError(
                    f"{where}.name", f"duplicate mirror name {mirror.name!r}", "give each mirror its own name"
                )
            seen.add(mirror.name)
            if mirror.site not in self.sites:
                raise _RefError(
                    f"{where}.site",
                    f"unknown site {mirror.site!r}",
                    f"use one of the names under sites: ({', '.join(sorted(self.sites))})",
                )
            if mirror.relay != "off" and not self.sites[mirror.site].can_post:
                raise _RefError(
                    f"{where}.relay",
                    f"relay is {mirror.relay!r} but site {mirror.site!r} has no username/app_password",
                    "set relay: off, or give the site an application password",
                )
            for t_index, target in enumerate(mirror.targets):
                if target.chat not in chat_names:
                    raise _RefError(
                        f"{where}.targets[{t_index}].chat",
                        f"unknown or disabled chat {target.chat!r}",
                        f"configure it under chats: (enabled: {', '.join(sorted(chat_names)) or 'none'})",
                    )
        return self

    def secret_values(self) -> list[str]:
        """Every secret in the config, for the log filter that hides them."""
        return [value.get_secret_value() for value in _secrets(self)]


def _secrets(node: object) -> list[SecretStr]:
    if isinstance(node, SecretStr):
        return [node]
    if isinstance(node, BaseModel):
        return [s for name in type(node).model_fields for s in _secrets(getattr(node, name))]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _secrets(value)]
    if isinstance(node, list | tuple):
        return [s for value in node for s in _secrets(value)]
    return []


class _RefError(ValueError):
    """A validation problem that knows its fix (and, for cross-references, its key)."""

    def __init__(self, key: str | None, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.key, self.problem, self.fix = key, problem, fix


FIXES = {
    "extra_forbidden": "remove it or check its spelling (see config.yaml in the project for every key)",
    "missing": "add it",
    "literal_error": "use one of the allowed values",
    "string_pattern_mismatch": "use lowercase letters, digits, '-', '_' or '.'",
    "greater_than_equal": "use a larger number",
    "greater_than": "use a larger number",
    "too_short": "add at least one entry",
    "float_parsing": "write a number",
    "int_parsing": "write a whole number",
    "bool_parsing": "write true or false",
    "string_type": "write a text value (quote it if needed)",
    "dict_type": "write a mapping (key: value lines)",
    "list_type": "write a list (lines starting with '- ')",
    "model_type": "write a mapping (key: value lines)",
}


def read_secrets_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (like a .env or a Docker secrets file); # comments allowed."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip().removeprefix("export ").strip()] = value.strip().strip("'\"")
    return values


def _substitute(node: Any, env: dict[str, str], file: str, path: str) -> Any:
    if isinstance(node, dict):
        return {k: _substitute(v, env, file, f"{path}.{k}" if path else str(k)) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, env, file, f"{path}[{i}]") for i, v in enumerate(node)]
    if isinstance(node, str):

        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise ConfigError(
                file,
                path,
                f"environment variable {name} is not set",
                f"export {name}=... or put {name}=... in the secrets file",
            )

        return ENV_REF.sub(replace, node)
    return node


def _loc_to_key(loc: tuple[int | str, ...]) -> str:
    key = ""
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
        elif part in ("function-after", "literal['all']") or str(part).startswith(("list[", "function-")):
            continue
        else:
            key += f".{part}" if key else str(part)
    return key


def _first_error(error: ValidationError, file: str) -> ConfigError:
    for item in error.errors():
        ctx_error = (item.get("ctx") or {}).get("error")
        if isinstance(ctx_error, _RefError):
            key = ctx_error.key or _loc_to_key(item["loc"])
            return ConfigError(file, key, ctx_error.problem, ctx_error.fix)
    # Unions report one error per branch; the first one is the most useful.
    item = error.errors()[0]
    key = _loc_to_key(item["loc"])
    problem = item["msg"].removeprefix("Value error, ")
    if item["type"] == "extra_forbidden":
        problem = "unknown key"
    elif "input" in item and item["type"] != "missing" and not isinstance(item["input"], dict | list):
        problem += f" (got {item['input']!r})"
    fix = FIXES.get(item["type"], "see the comments in the example config.yaml")
    if item["type"] == "literal_error":
        fix = f"use one of: {item.get('ctx', {}).get('expected', '')}"
    return ConfigError(file, key, problem, fix)


def load_config(path: str | Path, secrets_file: str | Path | None = None) -> Config:
    """Read, substitute and validate a config file, or raise ConfigError."""
    file = str(path)
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            file, "", "file not found", "pass --config with the path of your config.yaml"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            file, where, f"not valid YAML ({getattr(exc, 'problem', exc)})", "fix the YAML syntax"
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError(
            file, "", "the file is empty or not a mapping", "start from the example config.yaml"
        )
    env = dict(os.environ)
    secrets_path = secrets_file or raw.get("secrets_file") or os.environ.get("THREAD_MIRROR_SECRETS")
    if secrets_path:
        try:
            env = {**read_secrets_file(Path(str(secrets_path))), **env}
        except OSError as exc:
            raise ConfigError(
                file,
                "secrets_file",
                f"cannot read {secrets_path}: {exc.strerror}",
                "point it at a readable file",
            ) from None
    data = _substitute(raw, env, file, "")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc, file) from None
