"""The browser's page tabs, live from the Target domain, and the one flattened session on the chosen tab.

Discovers targets (`Target.setDiscoverTargets`: created, info changed,
destroyed) and attaches only to the tab the user chose
(`Target.attachToTarget(flatten=true)`); it never changes any other target.
The one read of another matching tab is a peek before a re-attach (does it show
the session's image?): one evaluate, nothing enabled or installed.
"""

from __future__ import annotations

import threading
from typing import Callable

from .cdp import CdpSession, Connection, log

_HIDDEN = ("chrome://", "devtools://", "chrome-untrusted://", "chrome-extension://")


def _is_page(info: dict) -> bool:
    url = info.get("url")
    return (
        info.get("type") == "page"
        and isinstance(url, str)
        and not url.startswith(_HIDDEN)
        and isinstance(info.get("targetId"), str)
    )


class Tabs:
    def __init__(self, conn: Connection, on_change: Callable[[], None], timeout: float = 5.0):
        self.conn = conn
        self.on_change = on_change  # the link that holds this list (set again when a link takes over one opened ahead)
        self._lock = threading.Lock()
        self._targets: dict[str, dict] = {}
        self._session: CdpSession | None = None
        for name, fn in (
            ("Target.targetCreated", self._on_info),
            ("Target.targetInfoChanged", self._on_info),
            ("Target.targetDestroyed", self._on_destroyed),
            ("Target.targetCrashed", self._on_crashed),
            ("Target.detachedFromTarget", self._on_detached),
        ):
            conn.on(name, fn)
        conn.call("Target.setDiscoverTargets", {"discover": True}, timeout=timeout)
        self.refresh(timeout)

    def refresh(self, timeout: float = 5.0) -> None:
        """Take Chrome's own list now (events may still be on their way, e.g. just after a tab closed)."""
        infos = self.conn.call("Target.getTargets", timeout=timeout).get("targetInfos") or []
        fresh = {i["targetId"]: i for i in infos if isinstance(i, dict) and isinstance(i.get("targetId"), str)}
        with self._lock:
            self._targets = fresh

    def pages(self) -> list[dict]:
        """The page tabs, [{id, url, title}], in the order Chrome reported them."""
        with self._lock:
            infos = list(self._targets.values())
        return [{"id": i["targetId"], "url": str(i.get("url", "")), "title": str(i.get("title", ""))}
                for i in infos if _is_page(i)]

    def attach(self, target_id: str, timeout: float = 5.0) -> CdpSession:
        """A flattened session on the tab `target_id` (the only target we ever control)."""
        session = self.open(target_id, timeout)
        self._session = session
        return session

    def open(self, target_id: str, timeout: float = 5.0) -> CdpSession:
        """A flattened session on `target_id` that is not the chosen tab's (a peek before a re-attach)."""
        with self._lock:
            info = dict(self._targets.get(target_id) or {"targetId": target_id})
        res = self.conn.call("Target.attachToTarget", {"targetId": target_id, "flatten": True}, timeout=timeout)
        sid = res.get("sessionId")
        if not isinstance(sid, str):
            from .cdp import CdpError

            raise CdpError("Target.attachToTarget", "no sessionId")
        info["id"] = target_id
        return CdpSession(info, connection=self.conn, session_id=sid)

    # ------------------------------------------------------------------ events

    def _changed(self) -> None:
        try:
            self.on_change()
        except Exception:
            log.error("tabs: change callback failed", exc_info=True)

    def _on_info(self, p: dict) -> None:
        info = p.get("targetInfo")
        if not isinstance(info, dict) or not isinstance(info.get("targetId"), str):
            return
        with self._lock:
            old = self._targets.get(info["targetId"])
            self._targets[info["targetId"]] = info
        if old is None or (old.get("url"), old.get("title"), old.get("type")) != (info.get("url"), info.get("title"), info.get("type")):
            if _is_page(info) or (old is not None and _is_page(old)):
                self._changed()

    def _on_destroyed(self, p: dict) -> None:
        tid = p.get("targetId")
        with self._lock:
            old = self._targets.pop(tid, None) if isinstance(tid, str) else None
        s = self._session
        if s is not None and s.target_id == tid:
            s.mark_disconnected("the tab was closed")
        if old is not None and _is_page(old):
            self._changed()

    def _on_crashed(self, p: dict) -> None:
        s = self._session
        if s is not None and s.target_id == p.get("targetId"):
            s.mark_disconnected("the tab crashed")

    def _on_detached(self, p: dict) -> None:
        s = self._session
        if s is not None and s.session_id == p.get("sessionId"):
            s.mark_disconnected("DevTools detached from the tab")
