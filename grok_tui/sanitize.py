"""Strings from the page are untrusted: make them safe once, where they enter grok-tui.

`page_text` escapes control characters (C0, DEL, C1, line/paragraph separators and
bidirectional overrides) and caps the length, so a toast or a title cannot forge log
lines or send escape sequences to a terminal. `strip_url` drops a URL's query string
and fragment (where tokens live); `strip_urls` does it to every URL inside a text.
No I/O, no imports from the rest of grok_tui.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MAX_TEXT = 300  # a toast, a title
MAX_URL = 2048

# C0 controls (newline and tab included), DEL, C1 controls, U+2028/2029 (line breaks to
# some viewers) and the bidirectional embeddings, overrides and isolates.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_URL_IN_TEXT = re.compile(r"(?i)\b(?:https?|wss?|file)://[^\s\"'<>\\]+")


def _escape(m: re.Match) -> str:
    c = ord(m.group(0))
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def escape_controls(text: str) -> str:
    """Every control character as a visible escape (``\\x1b``, ``\\n`` becomes ``\\x0a``)."""
    return _CONTROL.sub(_escape, text)


def page_text(value: object, limit: int = MAX_TEXT) -> str:
    """A page-originated string made safe to log, show and export: escaped, capped, URLs stripped."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    if len(text) > limit * 4:  # escaping can only grow it; do not escape what will be cut
        text = text[: limit * 4]
    text = strip_urls(escape_controls(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def strip_url(url: object, limit: int = MAX_URL) -> str:
    """The URL without its query string and fragment (tokens travel there), escaped and capped."""
    text = url if isinstance(url, str) else ("" if url is None else str(url))
    text = escape_controls(text[: limit * 2])
    try:
        parts = urlsplit(text)
    except ValueError:
        parts = None
    if parts is not None and parts.scheme and (parts.netloc or parts.path):
        text = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    else:
        text = text.split("?", 1)[0].split("#", 1)[0]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def strip_urls(text: str) -> str:
    """`text` with every URL in it reduced by `strip_url`."""
    if "://" not in text:
        return text
    return _URL_IN_TEXT.sub(lambda m: strip_url(m.group(0)), text)


__all__ = ["MAX_TEXT", "escape_controls", "page_text", "strip_url", "strip_urls"]
