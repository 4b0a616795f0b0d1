"""REST plumbing shared by the sample site: WordPress's errors, parameter validation and JSON output.

The parameter helpers follow WordPress's schema validation (`rest_validate_value_from_schema`) for the
types the sample site uses, with its error codes and messages, e.g. `per_page=500` answers
`rest_invalid_param` / "per_page must be between 1 (inclusive) and 100 (inclusive)".
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

__all__ = [
    "RestError",
    "add_query_arg",
    "bool_param",
    "date_param",
    "enum_param",
    "esc",
    "filter_fields",
    "int_list",
    "int_param",
    "invalid",
    "parse_date",
    "php_params",
    "sanitize_key",
    "str_param",
    "to_int",
    "wp_json",
]

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|z|[+-]\d{2}(?::\d{2})?)?$")


class RestError(Exception):
    """A WordPress `WP_Error` as the REST API answers it."""

    def __init__(self, code: str, message: str, status: int, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "data": {"status": self.status, **self.extra}}


def invalid(name: str, message: str, code: str) -> RestError:
    return RestError(
        "rest_invalid_param",
        f"Invalid parameter(s): {name}",
        400,
        params={name: message},
        details={name: {"code": code, "message": message, "data": None}},
    )


def to_int(name: str, value: Any, label: str | None = None) -> int:
    if isinstance(value, bool):
        raise invalid(name, f"{label or name} is not of type integer.", "rest_invalid_type")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    raise invalid(name, f"{label or name} is not of type integer.", "rest_invalid_type")


def int_param(
    params: Mapping[str, Any], name: str, default: int, minimum: int | None = None, maximum: int | None = None
) -> int:
    if name not in params:
        return default
    value = to_int(name, params[name])
    if minimum is not None and maximum is not None and not minimum <= value <= maximum:
        message = f"{name} must be between {minimum} (inclusive) and {maximum} (inclusive)"
        raise invalid(name, message, "rest_out_of_bounds")
    if minimum is not None and value < minimum:
        raise invalid(name, f"{name} must be greater than or equal to {minimum}", "rest_out_of_bounds")
    return value


def int_list(params: Mapping[str, Any], name: str) -> list[int] | None:
    if name not in params:
        return None
    value = params[name]
    if isinstance(value, str):
        items: list[Any] = [v for v in re.split(r"[\s,]+", value) if v != ""]
    elif isinstance(value, list):
        items = value
    elif isinstance(value, dict):
        items = list(value.values())
    else:
        items = [value]
    return [to_int(name, item, f"{name}[{i}]") for i, item in enumerate(items)]


def oxford(items: Iterable[str]) -> str:
    words = list(items)
    return (
        words[0]
        if len(words) == 1
        else ", ".join(words[:-1]) + (", and " if len(words) > 2 else " and ") + words[-1]
    )


def enum_param(params: Mapping[str, Any], name: str, choices: tuple[str, ...], default: str) -> str:
    value = params.get(name, default)
    if not isinstance(value, str) or value not in choices:
        raise invalid(name, f"{name} is not one of {oxford(choices)}.", "rest_not_in_enum")
    return value


def str_param(params: Mapping[str, Any], name: str, default: str = "") -> str:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise invalid(name, f"{name} is not of type string.", "rest_invalid_type")
    return str(value)


def bool_param(params: Mapping[str, Any], name: str, default: bool) -> bool:
    value = params.get(name, default)
    if isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", ""):
        return value.lower() in ("true", "1")
    raise invalid(name, f"{name} is not of type boolean.", "rest_invalid_type")


def parse_date(value: str) -> datetime | None:
    """`rest_parse_date` + WP_Date_Query: zone-less times are site time (UTC); sub-seconds are dropped."""
    if not _DATE_RE.match(value):
        return None
    text = value[:10] + "T" + value[11:]
    text = re.sub(r"[Zz]$", "+00:00", text)
    text = re.sub(r"([+-]\d{2})$", r"\1:00", text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # the site's time zone
    return moment.astimezone(UTC).replace(microsecond=0)


def date_param(params: Mapping[str, Any], name: str) -> datetime | None:
    if name not in params:
        return None
    value = params[name]
    moment = parse_date(value) if isinstance(value, str) else None
    if moment is None:
        raise invalid(name, "Invalid date.", "rest_invalid_date")
    return moment


def sanitize_key(value: Any) -> str:
    return re.sub(r"[^a-z0-9_\-]", "", str(value).lower())


def php_params(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Query or form pairs the way PHP reads them: `a[]=1&a[]=2` lists, `content[raw]=x` dicts, last wins."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        m = re.fullmatch(r"([^\[\]]+)\[([^\[\]]*)\]", key)
        if not m:
            out[key] = value
            continue
        base, sub = m.group(1), m.group(2)
        if sub == "":
            current = out.get(base)
            out[base] = [*current, value] if isinstance(current, list) else [value]
        else:
            current = out.get(base)
            out[base] = {**current, sub: value} if isinstance(current, dict) else {sub: value}
    return out


def wp_json(data: Any) -> bytes:
    """JSON like PHP's `wp_json_encode`: compact, `\\/` for slashes, `\\uXXXX` for non-ASCII."""
    return json.dumps(data, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode()


def filter_fields(data: Any, fields: list[str]) -> Any:
    """`_fields=id,content.rendered`: keep only those keys (nested with dots), in the original order."""
    if isinstance(data, list):
        return [filter_fields(item, fields) for item in data]
    if not isinstance(data, dict):
        return data
    tree: dict[str, Any] = {}
    for name in fields:
        node = tree
        parts = name.split(".")
        for i, part in enumerate(parts):
            if node.get(part) is True:
                break
            node = node.setdefault(part, True if i == len(parts) - 1 else {})
            if node is True:
                break

    def pick(source: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in source.items():
            if key not in spec:
                continue
            sub = spec[key]
            out[key] = pick(value, sub) if isinstance(sub, dict) and isinstance(value, dict) else value
        return out

    return pick(data, tree)


def add_query_arg(base: str, pairs: list[tuple[str, str]], key: str, value: str) -> str:
    """PHP's `add_query_arg(key, value, base?pairs)`: replace `key` in place or append it."""
    out: list[tuple[str, str]] = []
    replaced = False
    for k, v in pairs:
        if k == key:
            if not replaced:
                out.append((k, value))
                replaced = True
            continue
        out.append((k, v))
    if not replaced:
        out.append((key, value))
    query = "&".join(f"{quote_plus(k, safe='[]')}={quote_plus(v)}" for k, v in out)
    return f"{base}?{query}"


def esc(text: str) -> str:
    return html.escape(text, quote=True)
