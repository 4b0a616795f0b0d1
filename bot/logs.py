"""Logging set-up that never lets a secret through."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable


class RedactSecrets(logging.Filter):
    """Replaces every known secret value (and its space-less form) with ***."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        values = set()
        for secret in secrets:
            if len(secret) >= 4:
                values.add(secret)
                values.add(secret.replace(" ", ""))
        self.secrets = sorted(values, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class RedactingFormatter(logging.Formatter):
    """Redacts the whole formatted line, tracebacks included (a filter only sees the message)."""

    def __init__(self, redactor: RedactSecrets, fmt: str, datefmt: str) -> None:
        super().__init__(fmt, datefmt)
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self.redactor.redact(super().format(record))


def setup_logging(level: str, secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler(sys.stderr)
    redactor = RedactSecrets(secrets)
    handler.setFormatter(RedactingFormatter(redactor, "%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    handler.addFilter(redactor)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiohttp.access", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
