"""The page observer script (observer.js), its settings, and validation of what it sends.

Nothing the page sends is ever evaluated: binding payloads are size-capped,
parsed as JSON, checked against a small schema and rate-limited.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

BINDING_NAME = "__grokTuiSignal"
OBSERVER_FLAG = "__grokTuiObserver"
OBSERVER_VERSION = 2  # 2: toasts keep their identity across a re-render
MAX_PAYLOAD = 64 * 1024

GENERATION_PATH = "/rest/app-chat/conversations/new"

# Defaults from the project's notes on what Grok's page shows (grok-signals.md); settings may override each.
DEFAULT_SELECTORS: dict[str, object] = {
    "prompt": [
        'textarea[aria-label="Make a video"]',
        'textarea[aria-label="Crear un video"]',
        'textarea[name*="prompt"]',
        'div.tiptap.ProseMirror[contenteditable="true"]',
        '[contenteditable="true"]',
    ],
    "generate": [
        'button[aria-label="Redo"]',
        'button[aria-label="Rehacer"]',
        'button[aria-label="Make video"]',
        'button[aria-label="Crear video"]',
    ],
    "progressButton": ['button[aria-label="Video Options"]'],
    "progressOverlay": ["span.tabular-nums", "span.animate-pulse"],
    "toastContainer": ['section[aria-label*="Notifications"][aria-live="polite"]'],
    "toastItem": ['li.toast[data-visible="true"]'],
    "toastText": "span, div",
    "video": ["article video[src]"],
    "videoBlockers": 'img[alt="Moderated"], img[alt="Loading"]',
    "sourceImage": ['img[src*="imagine-public/images/"]'],
    "preferredVideo": "video#sd-video",
    "storeKey": "useMediaStore",  # the sessionStorage key of Grok's own media store (a name, not a selector)
}

MODERATION_TEXTS = ("content moderated", "content was moderated", "violates our guidelines", "try a different idea")
RATE_LIMIT_TEXTS = ("rate limit reached",)

_SCRIPT_PATH = Path(__file__).with_name("observer.js")


def merge_selectors(overrides: dict | None) -> dict:
    """Defaults with `overrides` on top (unknown keys kept; None values ignored)."""
    sel = {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in DEFAULT_SELECTORS.items()}
    for k, v in (overrides or {}).items():
        if v is None:
            continue
        if isinstance(v, (list, tuple)):
            sel[k] = [str(x) for x in v]
        else:
            sel[k] = str(v)
    return sel


def as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def observer_source(selectors: dict | None = None, binding: str = BINDING_NAME, flag: str = OBSERVER_FLAG) -> str:
    """The observer script, ready for Runtime.evaluate / Page.addScriptToEvaluateOnNewDocument.

    `binding` and `flag` are the instance's own names: what one grok-tui installs, another never removes."""
    cfg = {"selectors": merge_selectors(selectors), "binding": binding, "flag": flag, "version": OBSERVER_VERSION}
    body = _SCRIPT_PATH.read_text(encoding="utf-8")
    return f"{body}({json.dumps(cfg)});\n"


def classify_toast(text: str) -> str | None:
    """"moderated", "rate" or None for a toast's text."""
    low = " ".join(text.lower().split())
    if any(t in low for t in MODERATION_TEXTS):
        return "moderated"
    if any(t in low for t in RATE_LIMIT_TEXTS):
        return "rate"
    return None


# ----------------------------------------------------------------------------- validation


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) != float("inf")


def _short_str(v, limit: int) -> bool:
    return isinstance(v, str) and len(v) <= limit


def _clean_entry(e) -> dict | None:
    if not isinstance(e, dict):
        return None
    out: dict = {}
    for key, limit in (("mediaId", 200), ("videoId", 200), ("mediaUrl", 4096), ("videoUrl", 4096)):
        if key in e:
            if not _short_str(e[key], limit):
                return None
            out[key] = e[key]
    if "progress" in e:
        if not _is_num(e["progress"]):
            return None
        out["progress"] = float(e["progress"])
    if "moderated" in e:
        if not isinstance(e["moderated"], bool):
            return None
        out["moderated"] = e["moderated"]
    return out


def validate_signal(item) -> dict | None:
    """A clean copy of one observer payload, or None if it does not fit the schema."""
    if not isinstance(item, dict):
        return None
    kind = item.get("kind")
    if kind == "toast":
        text, key, ts = item.get("text"), item.get("key"), item.get("ts", None)
        if not _short_str(text, 2000) or not _short_str(key, 2200) or not key:
            return None
        if ts is not None and not _is_num(ts):
            return None
        return {"kind": "toast", "text": text, "key": key, "ts": float(ts) if ts is not None else None}
    if kind == "progress":
        p = item.get("percent")
        if not _is_num(p) or not 0 <= p <= 100:
            return None
        return {"kind": "progress", "percent": float(p)}
    if kind == "video":
        src = item.get("src")
        if not _short_str(src, 4096) or not src:
            return None
        return {"kind": "video", "src": src}
    if kind == "route":
        path = item.get("path")
        if not _short_str(path, 2048):
            return None
        return {"kind": "route", "path": path}
    if kind == "mediaStore":
        entries = item.get("entries")
        if not isinstance(entries, list) or len(entries) > 200:
            return None
        clean = [_clean_entry(e) for e in entries]
        if any(c is None for c in clean):
            return None
        return {"kind": "mediaStore", "entries": clean}
    if kind == "ready":
        doc = item.get("docId")
        if not _short_str(doc, 64):
            return None
        return {"kind": "ready", "docId": doc}
    return None


class SignalGate:
    """Size cap + JSON parse + schema check + token-bucket rate limit for binding payloads."""

    def __init__(self, rate: float = 50.0, burst: float = 200.0, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens = burst
        self._last = clock()
        self.received = 0  # binding calls
        self.accepted = 0  # signals passed on
        self.dropped = 0  # calls or items rejected (junk, too big, flood)

    def _take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def admit(self, payload) -> list[dict]:
        self.received += 1
        if not isinstance(payload, str) or len(payload) > MAX_PAYLOAD:
            self.dropped += 1
            return []
        if not self._take():
            self.dropped += 1
            return []
        try:
            data = json.loads(payload)
        except ValueError:
            self.dropped += 1
            return []
        items = data if isinstance(data, list) else [data]
        if len(items) > 50:
            self.dropped += len(items) - 50
            items = items[:50]
        out = []
        for it in items:
            clean = validate_signal(it)
            if clean is None:
                self.dropped += 1
            else:
                out.append(clean)
        self.accepted += len(out)
        return out
