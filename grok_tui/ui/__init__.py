"""The terminal UI (Textual): the only part of grok-tui that imports Textual."""
