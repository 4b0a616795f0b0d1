"""The Matrix chat: page threads as `m.thread`s, replies relayed back, `!commands` (see docs/matrix.md)."""

from bot.chats.matrix.adapter import MatrixChat

__all__ = ["MatrixChat"]
