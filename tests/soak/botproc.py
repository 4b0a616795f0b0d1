"""`thread-mirror run` as a separate process: started, SIGKILLed and restarted by the soak, and its
SQLite store read (read-only) to know what it has queued."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
HUNG = -1000  # stop(): SIGTERM did not end it


class BotProcess:
    def __init__(self, workdir: Path, config: dict[str, Any]) -> None:
        self.workdir = workdir
        self.config_path = workdir / "bot.yaml"
        self.log_path = workdir / "bot.log"
        self.store_path = Path(config["store"]["path"])
        self.config_path.write_text(json.dumps(config, indent=2))  # JSON is YAML
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.killed = 0
        self.unexpected_exits: list[str] = []  # exits nobody asked for, with the log's tail
        self._expect_exit = False

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> None:
        assert not self.alive
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        with self.log_path.open("ab") as log:
            log.write(f"\n==== start {self.starts + 1} ====\n".encode())
            log.flush()
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                "--config",
                str(self.config_path),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                cwd=self.workdir,
                env=env,
            )
        self.starts += 1
        self._expect_exit = False

    def kill(self) -> bool:
        """SIGKILL, now (from inside a proxy's kill hook too); False when it is not running."""
        if not self.alive:
            return False
        assert self.proc is not None
        self._expect_exit = True
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        self.killed += 1
        return True

    async def wait_exit(self) -> int:
        assert self.proc is not None
        code = await self.proc.wait()
        if not self._expect_exit:
            self.unexpected_exits.append(f"exit code {code}:\n{self.log_tail()}")
        return code

    async def stop(self, within: float = 30.0) -> int | None:
        """SIGTERM (a clean stop) and its exit code; None when it was not running, HUNG when it
        had to be killed after `within` seconds."""
        if not self.alive:
            return None
        assert self.proc is not None
        self._expect_exit = True
        self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.proc.wait(), within)
        except TimeoutError:
            self.kill()
            await self.proc.wait()
            return HUNG

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # -- the store, read-only --------------------------------------------------------

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        if not self.store_path.exists():
            return []
        db = sqlite3.connect(f"file:{self.store_path}?mode=ro", uri=True, timeout=10)
        db.row_factory = sqlite3.Row
        try:
            return db.execute(sql, args).fetchall()
        except sqlite3.OperationalError:  # the schema is not there yet (a first start was killed early)
            return []
        finally:
            db.close()

    async def has_job(self, key: str) -> bool:
        return bool(await asyncio.to_thread(self._query, "SELECT 1 FROM outbox WHERE key=?", (key,)))

    async def open_jobs(self) -> tuple[int, int]:
        """(pending, failed) outbox jobs."""
        rows = await asyncio.to_thread(
            self._query, "SELECT SUM(state='pending') AS p, SUM(state='failed') AS f FROM outbox"
        )
        return (int(rows[0]["p"] or 0), int(rows[0]["f"] or 0)) if rows else (0, 0)

    async def failed_jobs(self) -> list[str]:
        rows = await asyncio.to_thread(
            self._query, "SELECT kind, key, last_error FROM outbox WHERE state='failed' ORDER BY id LIMIT 10"
        )
        return [f"{r['kind']} {r['key']}: {r['last_error']}" for r in rows]

    async def job_durations(self, kind: str) -> list[float]:
        """Seconds from queued to done of each finished job of this kind."""
        rows = await asyncio.to_thread(
            self._query, "SELECT updated_at - created_at AS d FROM outbox WHERE kind=? AND state='done'", (kind,)
        )
        return [float(r["d"]) for r in rows]

    async def site_error(self, site: str) -> str | None:
        """Why the site's polls are failing, or None while they work."""
        rows = await asyncio.to_thread(
            self._query, "SELECT failing_since, last_error FROM cursors WHERE site=?", (site,)
        )
        return str(rows[0]["last_error"]) if rows and rows[0]["failing_since"] else None
