"""grok-tui: drive Grok Imagine video sessions in your own Chrome over CDP, from a terminal."""

__version__ = "0.1.0"
