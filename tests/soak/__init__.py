"""The crash-safety soak (see tests/soak/harness.py and docs/RELIABILITY.md)."""

from tests.soak.harness import Report, Soak, SoakParams

__all__ = ["Report", "Soak", "SoakParams"]
