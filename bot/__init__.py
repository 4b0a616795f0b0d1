"""Thread Mirror: mirror website comment threads into Discord and Matrix, and relay replies back."""

__version__ = "0.1.0"
