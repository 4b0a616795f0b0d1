"""A real Synapse homeserver on 127.0.0.1 for the test suite.

``start_synapse`` writes a ``homeserver.yaml`` (server_name ``localhost``, SQLite in a temp
file, one client listener on a free port, a registration shared secret, no federation keys,
presence off) and runs ``python -m synapse.app.homeserver`` from this interpreter. Users are
registered through the shared-secret admin API.

Rate limits: every ``rc_*`` limit is relaxed except ``rc_message``, which keeps Synapse's
default (0.2 messages/s, bursts of 10). Users registered with ``unlimited=True`` (the default)
get a per-user override that turns rate limiting off for them, so the suite runs fast; a user
registered with ``unlimited=False`` meets exactly Synapse's default message rate limit.

The session fixture ``synapse`` starts one server for the whole session and stops it by its
pid. Where Synapse cannot run it skips with the reason, except in CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import hmac
import importlib.util
import itertools
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

SERVER_NAME = "localhost"
START_TIMEOUT = 60.0
RELAXED = {"per_second": 1000, "burst_count": 1000}


def synapse_unavailable_reason() -> str | None:
    """None when this interpreter can run Synapse, else why not."""
    for module in ("synapse", "signedjson", "nio"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed in {sys.prefix}: pip install -e '.[dev]' (matrix-synapse, matrix-nio)"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class MatrixHTTPError(RuntimeError):
    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        self.status, self.body = status, body
        super().__init__(f"{method} {path} -> {status}: {body}")


@dataclass(frozen=True)
class MatrixAccount:
    user_id: str
    password: str
    access_token: str
    device_id: str

    @property
    def localpart(self) -> str:
        return self.user_id[1:].split(":", 1)[0]


@dataclass
class SynapseServer:
    """A running homeserver. Build it with ``start_synapse``; it stays up until ``stop()``."""

    workdir: Path
    port: int
    shared_secret: str
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    admin: MatrixAccount | None = None  # a server admin, for the admin API
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "homeserver.log"

    # ---- HTTP ---------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        """One client/admin API call; raises MatrixHTTPError for an error status."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as err:
            with err:
                raw = err.read()
            try:
                payload: Any = json.loads(raw)
            except ValueError:
                payload = raw.decode(errors="replace")
            raise MatrixHTTPError(method, path, err.code, payload) from None

    # ---- users ----------------------------------------------------------------------------

    def unique(self, prefix: str) -> str:
        """A localpart no other test used, e.g. ``bot3``."""
        return f"{prefix}{next(self._names)}"

    def register(
        self, localpart: str, *, admin: bool = False, unlimited: bool = True, displayname: str | None = None
    ) -> MatrixAccount:
        """Registers a user through the shared-secret admin API (and a device with a token)."""
        password = secrets.token_urlsafe(12)
        nonce = self.request("GET", "/_synapse/admin/v1/register")["nonce"]
        mac = hmac.new(self.shared_secret.encode(), digestmod=hashlib.sha1)
        fields = [nonce.encode(), localpart.encode(), password.encode(), b"admin" if admin else b"notadmin"]
        mac.update(b"\x00".join(fields))
        body: dict[str, Any] = {
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": mac.hexdigest(),
        }
        if displayname:
            body["displayname"] = displayname
        result = self.request("POST", "/_synapse/admin/v1/register", body)
        account = MatrixAccount(result["user_id"], password, result["access_token"], result["device_id"])
        if unlimited:
            by = self.admin or account
            self.request(
                "POST",
                f"/_synapse/admin/v1/users/{urllib.parse.quote(account.user_id)}/override_ratelimit",
                {"messages_per_second": 0, "burst_count": 0},
                token=by.access_token,
            )
        return account

    def login(self, account: MatrixAccount, device_id: str | None = None) -> dict[str, Any]:
        """A fresh password login (a new device unless ``device_id`` is given)."""
        body: dict[str, Any] = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": account.localpart},
            "password": account.password,
        }
        if device_id:
            body["device_id"] = device_id
        result: dict[str, Any] = self.request("POST", "/_matrix/client/v3/login", body)
        return result

    # ---- process ----------------------------------------------------------------------------

    def _wait_ready(self, deadline: float) -> None:
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"synapse exited with {self.proc.returncode}:\n{_log_tail(self.log_path)}")
            with contextlib.suppress(OSError, MatrixHTTPError, ValueError):
                if "versions" in self.request("GET", "/_matrix/client/versions"):
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"synapse did not answer on {self.base_url}:\n{_log_tail(self.log_path)}")
            time.sleep(0.05)

    def spawn(self) -> None:
        """Starts the homeserver process with the config in workdir (see ``start_synapse``)."""
        config = str(self.workdir / "homeserver.yaml")
        with (self.workdir / "stdout.log").open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "synapse.app.homeserver", "--config-path", config],
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        atexit.register(self.stop)

    def restart(self) -> None:
        """Stops the homeserver and starts it again on the same port with the same data."""
        self.stop()
        self.spawn()
        self._wait_ready(time.monotonic() + START_TIMEOUT)

    def stop(self) -> None:
        """Ends the homeserver by its pid (SIGTERM, then SIGKILL). Safe to call twice."""
        atexit.unregister(self.stop)
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)


class MatrixUser:
    """A person in the tests' Matrix rooms, acting through matrix-nio (as a client would)."""

    def __init__(self, server: SynapseServer, account: MatrixAccount) -> None:
        from nio import AsyncClient, AsyncClientConfig

        self.server = server
        self.account = account
        self.user_id = account.user_id
        self.client = AsyncClient(
            server.base_url, account.user_id, device_id=account.device_id, config=AsyncClientConfig(max_timeouts=2)
        )
        self.client.access_token = account.access_token
        self.client.user_id = account.user_id

    async def close(self) -> None:
        await self.client.close()  # never logout(): it would delete the device

    async def _ok(self, resp: Any) -> Any:
        from nio import ErrorResponse

        if isinstance(resp, ErrorResponse):
            raise AssertionError(f"{self.user_id}: {resp}")
        return resp

    async def set_name(self, name: str) -> None:
        await self._ok(await self.client.set_displayname(name))

    async def create_room(self, name: str, invite: Sequence[str] = (), power: dict[str, int] | None = None) -> str:
        """A private, unencrypted room; `power` sets users' power levels."""
        from nio import RoomPreset

        override = {"users": power} if power else None  # room v12: creators are not listed
        resp = await self._ok(
            await self.client.room_create(
                name=name, invite=list(invite), preset=RoomPreset.private_chat, power_level_override=override
            )
        )
        return str(resp.room_id)

    async def state(self, room_id: str, event_type: str, state_key: str = "") -> dict[str, Any]:
        resp = await self._ok(await self.client.room_get_state_event(room_id, event_type, state_key))
        content: dict[str, Any] = resp.content
        return content

    async def put_state(self, room_id: str, event_type: str, content: dict[str, Any], state_key: str = "") -> None:
        await self._ok(await self.client.room_put_state(room_id, event_type, content, state_key))

    async def join(self, room_id: str) -> None:
        await self._ok(await self.client.join(room_id))

    async def send(self, room_id: str, content: dict[str, Any]) -> str:
        resp = await self._ok(await self.client.room_send(room_id, "m.room.message", content))
        return str(resp.event_id)

    async def say(
        self, room_id: str, text: str, thread: str | None = None, reply_to: str | None = None, latest: str | None = None
    ) -> str:
        """A message; in a thread it answers `reply_to`, or (without) falls back to `latest` as clients do."""
        content: dict[str, Any] = {"msgtype": "m.text", "body": text}
        if thread is not None:
            content["m.relates_to"] = {
                "rel_type": "m.thread",
                "event_id": thread,
                "is_falling_back": reply_to is None,
                "m.in_reply_to": {"event_id": reply_to or latest or thread},
            }
        elif reply_to is not None:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        return await self.send(room_id, content)

    async def edit(self, room_id: str, event_id: str, text: str) -> str:
        new = {"msgtype": "m.text", "body": text}
        content = {
            "msgtype": "m.text",
            "body": f"* {text}",
            "m.new_content": new,
            "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
        }
        return await self.send(room_id, content)

    async def redact(self, room_id: str, event_id: str) -> None:
        await self._ok(await self.client.room_redact(room_id, event_id, reason="test"))

    async def event(self, room_id: str, event_id: str) -> dict[str, Any]:
        resp = await self._ok(await self.client.room_get_event(room_id, event_id))
        source: dict[str, Any] = resp.event.source
        return source

    async def relations(self, room_id: str, event_id: str, rel_type: str | None = None) -> list[dict[str, Any]]:
        """Events related to `event_id` (all, or of one relation type), oldest first."""
        from nio.api import MessageDirection, RelationshipType

        kind = RelationshipType(rel_type) if rel_type else None
        found = [
            e.source
            async for e in self.client.room_get_event_relations(
                room_id, event_id, rel_type=kind, direction=MessageDirection.front
            )
        ]
        return found

    async def thread(self, room_id: str, root: str) -> list[dict[str, Any]]:
        """The thread's events (oldest first), redacted ones included (their content is empty)."""
        return await self.relations(room_id, root, "m.thread")

    async def room_messages(self, room_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """The room's latest message events, oldest first."""
        from nio import MessageDirection

        resp = await self._ok(await self.client.room_messages(room_id, direction=MessageDirection.back, limit=limit))
        return [e.source for e in reversed(resp.chunk) if e.source.get("type") == "m.room.message"]


def homeserver_config(workdir: Path, port: int, shared_secret: str) -> dict[str, Any]:
    """The homeserver.yaml the tests run with (see the module docstring)."""
    return {
        "server_name": SERVER_NAME,
        "pid_file": str(workdir / "homeserver.pid"),
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": str(workdir / "homeserver.db")}},
        "log_config": str(workdir / "log.yaml"),
        "media_store_path": str(workdir / "media"),
        "signing_key_path": str(workdir / "signing.key"),
        "registration_shared_secret": shared_secret,
        "macaroon_secret_key": secrets.token_hex(16),
        "form_secret": secrets.token_hex(16),
        "report_stats": False,
        "enable_metrics": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "presence": {"enabled": False},
        "url_preview_enabled": False,
        "enable_registration": False,
        "federation_domain_whitelist": [],
        # Relaxed: nothing but rc_message (left at Synapse's default, see the module docstring).
        "rc_registration": RELAXED,
        "rc_login": {"address": RELAXED, "account": RELAXED, "failed_attempts": RELAXED},
        "rc_joins": {"local": RELAXED, "remote": RELAXED},
        "rc_joins_per_room": RELAXED,
        "rc_invites": {"per_room": RELAXED, "per_user": RELAXED, "per_issuer": RELAXED},
        "rc_admin_redaction": RELAXED,
        "rc_room_creation": RELAXED,
        "rc_key_requests": RELAXED,
        "rc_3pid_validation": RELAXED,
        "rc_presence": {"per_user": RELAXED},
        "rc_profile": RELAXED,
    }


LOG_CONFIG = """\
version: 1
formatters:
  precise:
    format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(message)s'
handlers:
  file:
    class: logging.FileHandler
    formatter: precise
    filename: {path}
loggers:
  synapse.storage.SQL:
    level: WARNING
root:
  level: WARNING
  handlers: [file]
disable_existing_loggers: false
"""


def start_synapse(workdir: Path) -> SynapseServer:
    """Writes the config, starts Synapse on a free 127.0.0.1 port and registers a server admin."""
    reason = synapse_unavailable_reason()
    if reason is not None:
        raise RuntimeError(reason)
    from signedjson.key import generate_signing_key, write_signing_keys

    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "media").mkdir(exist_ok=True)
    server = SynapseServer(workdir=workdir, port=_free_port(), shared_secret=secrets.token_hex(16))
    config = homeserver_config(workdir, server.port, server.shared_secret)
    key_path = Path(config["signing_key_path"])
    if not key_path.exists():
        with key_path.open("w") as key_file:
            write_signing_keys(key_file, [generate_signing_key("a")])
    (workdir / "log.yaml").write_text(LOG_CONFIG.format(path=server.log_path))
    (workdir / "homeserver.yaml").write_text(json.dumps(config, indent=2))  # JSON is YAML
    deadline = time.monotonic() + START_TIMEOUT
    server.spawn()
    try:
        server._wait_ready(deadline)
        server.admin = server.register("synapse-admin", admin=True, unlimited=True)
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    """A real Synapse for the whole session; skipped where it cannot run, except in CI."""
    reason = synapse_unavailable_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the Synapse tests, but: {reason}", pytrace=False)
        pytest.skip(reason)
    try:
        server = start_synapse(tmp_path_factory.mktemp("synapse"))
    except (RuntimeError, TimeoutError) as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"Synapse did not start here: {exc}")
    try:
        yield server
    finally:
        server.stop()
