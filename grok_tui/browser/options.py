"""Generation options in Grok's generation request body (pure: no I/O, no CDP).

The body carries the user's choices beside `parentPostId`, in
`responseMetadata.modelConfigOverride.modelMap.videoGenModelConfig` (aspect ratio,
video length, resolution, mode, ...). Ids in that object (parentPostId, ...) are
not options: they are left out of the comparison.
"""

from __future__ import annotations

import json
import re
from typing import Any

OPTIONS_PATH = ("responseMetadata", "modelConfigOverride", "modelMap", "videoGenModelConfig")
LABELS = {
    "videoLength": "video length",
    "resolutionName": "resolution",
    "resolution": "resolution",
    "aspectRatio": "aspect ratio",
    "mode": "mode",
}
_MISSING = "(none)"


def options_of(body: Any) -> dict | None:
    """The options in a generation request body (a JSON text or dict); None when it carries none."""
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return None
    node = body
    for key in OPTIONS_PATH:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    if not isinstance(node, dict):
        return None
    return {k: v for k, v in node.items() if isinstance(k, str) and not _is_id(k)}


def _is_id(key: str) -> bool:
    return key.endswith(("Id", "Ids", "_id")) or key == "id"


def label(key: str) -> str:
    """'videoLength' -> 'video length'."""
    if key in LABELS:
        return LABELS[key]
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r" \1", key).replace("_", " ").lower()


def value_text(v: Any) -> str:
    if v is None:
        return _MISSING
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float, str)):
        return str(v)
    return json.dumps(v, sort_keys=True, ensure_ascii=False)


def diff(first: dict, now: dict | None) -> list[tuple[str, Any, Any]]:
    """(key, first value, new value) for every option that differs; a missing one counts as a change."""
    now = now or {}
    keys = list(first) + [k for k in now if k not in first]
    return [(k, first.get(k), now.get(k)) for k in keys if first.get(k) != now.get(k)]


def describe(changes: list[tuple[str, Any, Any]]) -> str:
    """'video length 10 → 6, resolution 720p → 480p'."""
    return ", ".join(f"{label(k)} {value_text(a)} → {value_text(b)}" for k, a, b in changes)


def summary(options: dict | None) -> str:
    """'video length 10 · resolution 720p' (or '–')."""
    if not options:
        return "–"
    return " · ".join(f"{label(k)} {value_text(v)}" for k, v in options.items())
