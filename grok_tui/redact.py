"""Keep secrets out of logs and exports: cookies, Authorization headers, tokens, URL queries."""

from __future__ import annotations

import re

from .sanitize import strip_urls

_PATTERNS = [
    # header-like "name: value" / "name=value" for secret-bearing names
    re.compile(
        r"(?i)\b(cookie|set-cookie|authorization|proxy-authorization|x-csrf-token|x-xsrf-token|"
        r"x-statsig-id|sso|sso-rw|auth[_-]?token|access[_-]?token|refresh[_-]?token|id[_-]?token|"
        r"session[_-]?id|api[_-]?key|token)\b(\s*[:=]\s*|\"\s*:\s*\")([^\s\";,&]+)"
    ),
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),  # JWTs
]


_COOKIE_HEADER = re.compile(r"(?i)\b(cookie|set-cookie)(\"?\s*:\s*\"?)[^\n\"]*")


def redact(text: str) -> str:
    """Replace secret values with [redacted] and drop URL queries; the rest of the text stays."""
    if not text:
        return text
    # a URL's query string and fragment can carry tokens (?access_token=...): never shown
    text = strip_urls(text)
    # a cookie header's whole value: every pair in it may be a credential
    text = _COOKIE_HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]", text)
    # bearer/basic credentials first: the header rule would otherwise take "Bearer" as the value
    out = _PATTERNS[1].sub(lambda m: f"{m.group(1)} [redacted]", text)
    out = _PATTERNS[0].sub(
        lambda m: m.group(0) if m.group(3) in ("Bearer", "Basic", "bearer", "basic") else f"{m.group(1)}{m.group(2)}[redacted]",
        out,
    )
    out = _PATTERNS[2].sub("[redacted-jwt]", out)
    return out
