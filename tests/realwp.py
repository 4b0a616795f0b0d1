"""A real WordPress on 127.0.0.1 for the test suite.

Provisions Debian's WordPress 6.1 (PHP built-in server + a private MariaDB under a work
directory) and gives tests helpers to act as the site: create posts, add/edit/trash/delete
comments, switch themes. See ``start_wordpress`` and the session fixture ``wordpress``.

Needs root and the packages that ``scripts/install-wordpress.sh`` installs. Helpers are
synchronous (stdlib urllib); from async tests call them via ``await asyncio.to_thread(...)``
or directly (they only block the loop briefly; the site runs in other processes).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any, Literal

import pytest

WP_ROOT = Path("/usr/share/wordpress")
HARNESS_DIR = Path(__file__).resolve().parent / "wp"
# Debian's wp-config.php loads /etc/wordpress/config-<WORDPRESS_CONFIG>.php; our router and CLI
# scripts set WORDPRESS_CONFIG=threadmirror-test, so a host-named config-127.0.0.1.php is never used.
ETC_CONFIG_STUB = Path("/etc/wordpress/config-threadmirror-test.php")
MARIADBD = "/usr/sbin/mariadbd"
DB_NAME = "wordpress"
DB_USER = "wordpress"
DB_PASSWORD = "wordpress"
PHP_WORKERS = "4"  # php -S is single-threaded unless told otherwise; the bot polls concurrently
START_TIMEOUT = 30.0

# What each Debian package provides that the harness relies on.
_PACKAGE_PROBES: dict[str, list[str]] = {
    "wordpress": [str(WP_ROOT / "wp-load.php"), str(WP_ROOT / "wp-config.php")],
    "php-cli": ["php"],
    "mariadb-server": [MARIADBD, "mariadb-install-db", "mariadb"],
    "wordpress-theme-twentytwentythree": [str(WP_ROOT / "wp-content/themes/twentytwentythree/style.css")],
    "wordpress-theme-twentytwentyone": [str(WP_ROOT / "wp-content/themes/twentytwentyone/style.css")],
}

Auth = Literal["admin", "bot"] | tuple[str, str] | None


def wordpress_unavailable_reason() -> str | None:
    """None when this machine can provision a real WordPress, else why not."""
    if os.geteuid() != 0:
        return (
            "not root: the real-WordPress harness runs a private MariaDB as root and writes "
            f"{ETC_CONFIG_STUB}"
        )
    missing = [
        package
        for package, probes in _PACKAGE_PROBES.items()
        if not all(Path(p).exists() if p.startswith("/") else shutil.which(p) for p in probes)
    ]
    if "php-cli" not in missing:
        # php-mysql is only visible as PHP's mysqli extension.
        probe = subprocess.run(
            ["php", "-r", "exit(extension_loaded('mysqli') ? 0 : 1);"], capture_output=True, check=False
        )
        if probe.returncode != 0:
            missing.append("php-mysql")
    if missing:
        return f"packages missing ({', '.join(missing)}): run scripts/install-wordpress.sh"
    return None


class WordPressError(RuntimeError):
    """A REST call answered with an error status; ``response`` holds the details."""

    def __init__(self, response: WPResponse) -> None:
        self.response = response
        super().__init__(f"{response.method} {response.url} -> {response.status}: {response.text[:500]}")

    @property
    def code(self) -> str | None:
        """WordPress's error code, e.g. ``comment_duplicate``."""
        data = self.response.json_or_none()
        return data.get("code") if isinstance(data, dict) else None


@dataclass
class WPResponse:
    method: str
    url: str
    status: int
    headers: Message
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def json_or_none(self) -> Any:
        try:
            return self.json()
        except ValueError:
            return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # Tests want to see redirects (e.g. /wp-json/ under plain permalinks), not follow them.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _basic_auth(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def _php_literal(value: str) -> str:
    # JSON strings are valid PHP double-quoted strings once "$" cannot start an interpolation.
    return json.dumps(value).replace("$", "\\$")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _kill_group(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Ends a process we started in its own session, with its children (php -S workers)."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


@dataclass
class RealWordPress:
    """A running test site. Build it with ``start_wordpress``; it stays up until ``stop()``."""

    workdir: Path
    port: int
    db_socket: Path
    bot_username: str = "mirrorbot"
    bot_app_password: str = ""
    bot_user_id: int = 0
    admin_username: str = "admin"
    admin_app_password: str = ""
    admin_user_id: int = 0
    _db_proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _php_proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def rest_url(self) -> str:
        """The REST API root (pretty permalinks are on, so /wp-json/ works)."""
        return f"{self.base_url}/wp-json/"

    @property
    def config_path(self) -> Path:
        return self.workdir / "wp-config-instance.php"

    @property
    def mu_plugins_dir(self) -> Path:
        """This instance's wp-content/mu-plugins (WPMU_PLUGIN_DIR): every PHP file there is loaded."""
        return self.workdir / "mu-plugins"

    @property
    def env(self) -> dict[str, str]:
        """Environment for the php processes of this instance."""
        return {
            **os.environ,
            "THREAD_MIRROR_WP_CONFIG": str(self.config_path),
            "THREAD_MIRROR_WP_HOME": self.base_url,
            "THREAD_MIRROR_WP_ROOT": str(WP_ROOT),
            "PHP_CLI_SERVER_WORKERS": PHP_WORKERS,
        }

    # ---- HTTP -------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        auth: Auth = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> WPResponse:
        """One raw HTTP request; never raises for HTTP error statuses and never follows redirects.

        ``path`` is relative to the site ("/wp-json/wp/v2/comments") or a full URL.
        ``auth`` is "admin", "bot", (username, password) or None for anonymous.
        """
        url = path if path.startswith("http") else self.base_url + path
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(
                {k: str(v).lower() if isinstance(v, bool) else v for k, v in params.items()}, doseq=True
            )
        data = None
        all_headers = dict(headers or {})
        if json_body is not None:
            data = json.dumps(json_body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        if auth == "admin":
            all_headers["Authorization"] = _basic_auth(self.admin_username, self.admin_app_password)
        elif auth == "bot":
            all_headers["Authorization"] = _basic_auth(self.bot_username, self.bot_app_password)
        elif isinstance(auth, tuple):
            all_headers["Authorization"] = _basic_auth(*auth)
        req = urllib.request.Request(url, data=data, method=method.upper(), headers=all_headers)
        try:
            with _OPENER.open(req, timeout=timeout) as resp:
                return WPResponse(method.upper(), url, resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as err:
            with err:
                return WPResponse(method.upper(), url, err.code, err.headers, err.read())

    def rest(
        self,
        method: str,
        route: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        auth: Auth = "admin",
    ) -> Any:
        """A REST call (route like "/wp/v2/comments") as admin by default; raises WordPressError on >= 400."""
        resp = self.request(method, "/wp-json" + route, params=params, json_body=json_body, auth=auth)
        if resp.status >= 400:
            raise WordPressError(resp)
        return resp.json()

    # ---- acting as the site -------------------------------------------------------------------

    def create_post(
        self, title: str, content: str = "", *, slug: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        """Publishes a post as admin; returns the REST JSON (``id``, ``link``, ...)."""
        body: dict[str, Any] = {"title": title, "content": content, "status": "publish", **extra}
        if slug is not None:
            body["slug"] = slug
        post: dict[str, Any] = self.rest("POST", "/wp/v2/posts", json_body=body)
        return post

    def add_comment(
        self,
        post_id: int,
        content: str,
        author_name: str = "Alice",
        parent: int = 0,
        author_email: str = "alice@example.test",
        *,
        status: str = "approved",
        **extra: Any,
    ) -> dict[str, Any]:
        """Adds a visitor's comment (tied to no user, like the fixture's) as admin via REST.

        ``extra`` goes into the body as is, e.g. ``date_gmt="2026-01-01T10:00:00"``.
        WordPress refuses (409 comment_duplicate) the same text twice from the same author
        under the same post, so keep texts unique.
        """
        body = {
            "post": post_id,
            "parent": parent,
            "content": content,
            "author_name": author_name,
            "author_email": author_email,
            "status": status,
            **extra,
        }
        comment: dict[str, Any] = self.rest("POST", "/wp/v2/comments", json_body=body)
        return comment

    def edit_comment(self, comment_id: int, content: str, **extra: Any) -> dict[str, Any]:
        comment: dict[str, Any] = self.rest(
            "POST", f"/wp/v2/comments/{comment_id}", json_body={"content": content, **extra}
        )
        return comment

    def trash_comment(self, comment_id: int) -> dict[str, Any]:
        """Moves to the trash (a public GET of it then answers 401)."""
        comment: dict[str, Any] = self.rest("DELETE", f"/wp/v2/comments/{comment_id}")
        return comment

    def delete_comment(self, comment_id: int) -> dict[str, Any]:
        """Deletes for good (a GET then answers 404); returns ``{"deleted": true, "previous": ...}``."""
        result: dict[str, Any] = self.rest("DELETE", f"/wp/v2/comments/{comment_id}", params={"force": True})
        return result

    def get_comment(self, comment_id: int, context: str = "edit") -> dict[str, Any]:
        comment: dict[str, Any] = self.rest(
            "GET", f"/wp/v2/comments/{comment_id}", params={"context": context}
        )
        return comment

    def list_comments(self, post_id: int | None = None, *, status: str = "any") -> list[dict[str, Any]]:
        """Every comment of a post (or the site), any status incl. hold/spam/trash, oldest first."""
        params: dict[str, Any] = {
            "context": "edit",
            "status": status,
            "per_page": 100,
            "orderby": "date",
            "order": "asc",
        }
        if post_id is not None:
            params["post"] = post_id
        comments: list[dict[str, Any]] = []
        page = 1
        while True:
            resp = self.request(
                "GET", "/wp-json/wp/v2/comments", params={**params, "page": page}, auth="admin"
            )
            if resp.status >= 400:
                raise WordPressError(resp)
            comments.extend(resp.json())
            if page >= int(resp.headers.get("X-WP-TotalPages") or 1):
                return comments
            page += 1

    def switch_theme(self, stylesheet: str) -> dict[str, Any]:
        """Activates an installed theme, e.g. "twentytwentythree" (block) or "twentytwentyone" (classic).

        WordPress 6.1's REST API cannot activate themes, so this runs WordPress's switch_theme()
        in a PHP CLI process against the same database; the next request sees the new theme.
        """
        out = self._run_php("tool.php", "switch-theme", stylesheet)
        result: dict[str, Any] = json.loads(out)
        return result

    def php_eval(self, code: str) -> str:
        """Runs PHP code (no "<?php") with WordPress loaded; returns what it echoes."""
        return self._run_php("tool.php", "eval", stdin=code)

    def set_option(self, name: str, value: Any) -> None:
        """update_option() with a JSON-able value, e.g. ``set_option("timezone_string", "Europe/Berlin")``."""
        payload = json.dumps({"name": name, "value": value})
        self.php_eval(
            f"$o = json_decode({_php_literal(payload)}, true); update_option($o['name'], $o['value']);"
        )

    def install_mu_plugin(self, plugin: Path) -> Path:
        """Copies a one-file plugin into this instance's mu-plugins; the next request runs it."""
        self.mu_plugins_dir.mkdir(exist_ok=True)
        target = self.mu_plugins_dir / plugin.name
        shutil.copyfile(plugin, target)
        return target

    def remove_mu_plugin(self, name: str) -> None:
        (self.mu_plugins_dir / name).unlink(missing_ok=True)

    # ---- processes ----------------------------------------------------------------------------

    def _run_php(self, script: str, *args: str, stdin: str | None = None) -> str:
        proc = subprocess.run(
            ["php", "-d", "display_errors=stderr", str(HARNESS_DIR / script), *args],
            input=(stdin or "").encode(),
            capture_output=True,
            env=self.env,
            timeout=60,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"php {script} {' '.join(args)} failed ({proc.returncode}): "
                f"{proc.stderr.decode(errors='replace')}{proc.stdout.decode(errors='replace')}"
            )
        return proc.stdout.decode()

    def _start_php(self) -> None:
        log = (self.workdir / "php-server.log").open("ab")
        self._php_proc = subprocess.Popen(
            [
                "php",
                "-d",
                "display_errors=stderr",
                "-d",
                "log_errors=0",
                "-S",
                f"127.0.0.1:{self.port}",
                "-t",
                str(WP_ROOT),
                str(HARNESS_DIR / "router.php"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=self.env,
            start_new_session=True,  # own process group: stop() ends the server and its workers
        )
        log.close()

    def _wait_http(self, deadline: float) -> None:
        """Waits until the REST root answers 200 JSON."""
        log_path = self.workdir / "php-server.log"
        while True:
            if self._php_proc is not None and self._php_proc.poll() is not None:
                raise RuntimeError(f"php -S exited with {self._php_proc.returncode}:\n{_log_tail(log_path)}")
            with contextlib.suppress(OSError):
                resp = self.request("GET", "/wp-json/", timeout=5)
                if resp.status == 200 and isinstance(resp.json_or_none(), dict):
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"WordPress did not answer on {self.rest_url}:\n{_log_tail(log_path)}")
            time.sleep(0.05)

    def restart(self) -> None:
        """Stops and starts the PHP server on the same port; the database is kept."""
        if self._php_proc is not None:
            _kill_group(self._php_proc)
        self._start_php()
        self._wait_http(time.monotonic() + START_TIMEOUT)

    def stop(self) -> None:
        """Ends the PHP server and MariaDB. Safe to call twice."""
        atexit.unregister(self.stop)
        if self._php_proc is not None:
            _kill_group(self._php_proc)
            self._php_proc = None
        if self._db_proc is not None:
            _kill_group(self._db_proc, timeout=30)  # SIGTERM is mariadbd's clean shutdown
            self._db_proc = None


def _start_mariadb(workdir: Path, db_socket: Path, deadline: float) -> subprocess.Popen[bytes]:
    datadir = workdir / "mysql"
    log_path = workdir / "mariadb.log"
    if not (datadir / "mysql").is_dir():
        # --no-defaults: ignore Debian's /etc/mysql config (system datadir, socket, user mysql).
        result = subprocess.run(
            [
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={datadir}",
                "--user=root",
                "--skip-test-db",
                "--auth-root-authentication-method=socket",
                "--innodb-log-file-size=8M",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            check=False,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"mariadb-install-db failed:\n{result.stdout.decode(errors='replace')[-3000:]}"
            )
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [
                MARIADBD,
                "--no-defaults",
                "--user=root",
                f"--datadir={datadir}",
                f"--socket={db_socket}",
                "--skip-networking",
                f"--pid-file={workdir / 'mariadb.pid'}",
                f"--log-error={log_path}",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_general_ci",
                # Small and fast: this database holds a handful of test rows and is thrown away.
                "--innodb-buffer-pool-size=64M",
                "--innodb-log-file-size=8M",
                "--innodb-flush-log-at-trx-commit=0",
                "--skip-log-bin",
                "--skip-name-resolve",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    sql = (
        f"CREATE DATABASE IF NOT EXISTS {DB_NAME} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;"
        f"CREATE USER IF NOT EXISTS '{DB_USER}'@'localhost' IDENTIFIED BY '{DB_PASSWORD}';"
        f"GRANT ALL ON {DB_NAME}.* TO '{DB_USER}'@'localhost';"
    )
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"mariadbd exited with {proc.returncode}:\n{_log_tail(log_path)}")
        if db_socket.exists():
            result = subprocess.run(
                ["mariadb", "--no-defaults", f"--socket={db_socket}", "-u", "root", "-e", sql],
                capture_output=True,
                check=False,
                timeout=30,
            )
            if result.returncode == 0:
                return proc
        if time.monotonic() > deadline:
            _kill_group(proc)
            raise TimeoutError(f"MariaDB did not come up on {db_socket}:\n{_log_tail(log_path)}")
        time.sleep(0.05)


def _write_config(wp: RealWordPress) -> None:
    template = (HARNESS_DIR / "wp-config.template.php").read_text()
    values = {
        "DB_NAME": DB_NAME,
        "DB_USER": DB_USER,
        "DB_PASSWORD": DB_PASSWORD,
        "DB_HOST": f"localhost:{wp.db_socket}",
        "HOME": wp.base_url,
        "MU_PLUGINS": str(wp.mu_plugins_dir),
    }
    for name, value in values.items():
        template = template.replace(f"@@{name}@@", _php_literal(value))
    wp.config_path.write_text(template)

    # The stub is identical for every instance; rewrite it only when it differs.
    stub = (HARNESS_DIR / "config-stub.php").read_text()
    if not ETC_CONFIG_STUB.is_file() or ETC_CONFIG_STUB.read_text() != stub:
        ETC_CONFIG_STUB.parent.mkdir(parents=True, exist_ok=True)
        tmp = ETC_CONFIG_STUB.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(stub)
        tmp.replace(ETC_CONFIG_STUB)  # atomic, in case two instances start at once


def start_wordpress(workdir: Path) -> RealWordPress:
    """Provisions and starts a WordPress under ``workdir`` (reused if it already holds one).

    Starts a private MariaDB (datadir and socket under workdir, no TCP), ``php -S`` on a free
    127.0.0.1 port, installs the site, and returns once the REST API answers. Call ``stop()``
    when done (an atexit hook does it too, as a safety net).
    """
    reason = wordpress_unavailable_reason()
    if reason is not None:
        raise RuntimeError(reason)
    deadline = time.monotonic() + START_TIMEOUT
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)

    db_socket = workdir / "mysqld.sock"
    if len(str(db_socket)) > 100:  # unix socket paths are limited to 107 bytes
        db_socket = Path(tempfile.mkdtemp(prefix="tmwp-")) / "mysqld.sock"

    wp = RealWordPress(workdir=workdir, port=_free_port(), db_socket=db_socket)
    atexit.register(wp.stop)
    try:
        wp._db_proc = _start_mariadb(workdir, db_socket, deadline)
        _write_config(wp)
        wp._start_php()  # starts while install.php runs; install.php makes no HTTP requests
        info = json.loads(wp._run_php("install.php"))
        wp.admin_username = info["admin"]["username"]
        wp.admin_app_password = info["admin"]["app_password"]
        wp.admin_user_id = int(info["admin"]["id"])
        wp.bot_username = info["bot"]["username"]
        wp.bot_app_password = info["bot"]["app_password"]
        wp.bot_user_id = int(info["bot"]["id"])
        wp._wait_http(deadline)
    except BaseException:
        wp.stop()
        raise
    return wp


@pytest.fixture(scope="session")
def wordpress(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealWordPress]:
    """A real WordPress for the whole session; skipped where it cannot run, except in CI."""
    reason = wordpress_unavailable_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the real-WordPress tests, but: {reason}", pytrace=False)
        pytest.skip(reason)
    wp = start_wordpress(tmp_path_factory.mktemp("wordpress"))
    try:
        yield wp
    finally:
        wp.stop()
