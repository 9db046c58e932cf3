"""BrowserLink: the one class the rest of the app uses to talk to the Grok tab, a façade over the link's modules.

It attaches to the user's Chrome over CDP (cdp), reads the tab (page), its
generation stream (network) and its observer's signals (dom), tags what they
emit with the attempt it belongs to (attempts), and carries out the engine's
ClickMakeVideo (actions). `emit` is called from pychrome's threads (and from
the thread that called execute_click); it must be thread safe and must not
block (e.g. Textual's `app.post_message`).

Never logs request headers, cookies or tokens; never navigates, resizes or
emulates the tab; touches only the chosen tab.
"""

from __future__ import annotations

import time
from typing import Callable

from ..engine.events import ClickMakeVideo
from .actions import CONFIRM_TIMEOUT, Actions
from .attempts import AttemptBoard
from .cdp import BrowserError, CdpSession, CdpTimeout, NoMatchingTab, discover
from .dom import DomSignals
from .network import GenerationWatch
from .observer import SignalGate, merge_selectors
from .page import Page, media_id_from_src, post_id_from_url
from .signals import AttachInfo, Attached, Disconnected, TabIdentity


class BrowserLink:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 9222,
        tab_match: str = "grok.com/imagine",
        emit: Callable[[object], None],
        selectors: dict | None = None,
        call_timeout: float = 5.0,
        confirm_timeout: float = CONFIRM_TIMEOUT,
    ):
        self.host, self.port, self.tab_match = host, port, tab_match
        self._chosen_target: str | None = None
        self.selectors = merge_selectors(selectors)
        self.call_timeout = call_timeout
        self.info: AttachInfo | None = None
        self.board = AttemptBoard(emit)
        self.page = Page(self.board, self.selectors, call_timeout)
        self.network = GenerationWatch(self.page, self.board)
        self.dom = DomSignals(self.page, self.board)
        self.actions = Actions(self.page, self.board, self.network, self.dom, confirm_timeout)

    # ------------------------------------------------------------------ state

    @property
    def attached(self) -> bool:
        s = self.page.session
        return s is not None and s.alive

    @property
    def current_attempt(self) -> int | None:
        return self.board.attempt

    @property
    def gate(self) -> SignalGate:
        return self.dom.gate

    @property
    def confirm_timeout(self) -> float:
        return self.actions.confirm_timeout

    # ------------------------------------------------------------------ attach / close

    def list_tabs(self) -> list[dict]:
        """The page tabs whose URL contains tab_match: [{id, url, title}], in Chrome's order."""
        _version, pages = discover(self.host, self.port, timeout=min(2.0, self.call_timeout))
        return [
            {"id": str(t.get("id")), "url": str(t.get("url", "")), "title": str(t.get("title", ""))}
            for t in pages
            if self.tab_match in str(t.get("url", ""))
        ]

    def attach(self, target_id: str | None = None) -> AttachInfo:
        """Attach to a page tab whose URL contains tab_match. Raises BrowserError subclasses.

        `target_id` picks one (the user's choice); without it the tab attached before is
        preferred (a re-attach stays on the chosen tab), else the first match.
        """
        t0 = time.monotonic()
        old, self.page.session = self.page.session, None
        if old is not None:
            old.close()
        version, pages = discover(self.host, self.port, timeout=min(2.0, self.call_timeout))
        matches = [t for t in pages if self.tab_match in str(t.get("url", ""))]
        if not matches:
            raise NoMatchingTab(self.tab_match, [str(t.get("url", "")) for t in pages])
        wanted = target_id or self._chosen_target
        target = next((t for t in matches if str(t.get("id")) == wanted), None)
        if target is None and target_id:
            raise NoMatchingTab(self.tab_match, [str(t.get("url", "")) for t in matches])
        target = target or matches[0]
        self._chosen_target = str(target.get("id"))
        session = CdpSession(target, connect_timeout=self.call_timeout)
        try:
            for part in (self.page, self.network, self.dom):
                part.register(session)
            session.on_disconnect(self._on_disconnect)
            ident = self.page.setup(session, str(target.get("url", "")))
        except BaseException:
            self.page.session = None
            session.close()
            raise
        self.info = AttachInfo(
            host=self.host,
            port=self.port,
            browser=str(version.get("Browser", "")),
            protocol=str(version.get("Protocol-Version", "")),
            target_id=str(target.get("id")),
            identity=ident,
            matched=len(matches),
            pages=len(pages),
            attach_ms=round((time.monotonic() - t0) * 1000.0, 1),
        )
        if len(matches) > 1 and not wanted:
            self.board.log("WARN", f"{len(matches)} tabs match {self.tab_match!r}; using the first: {ident.url}")
        self.board.emit(Attached(self.info))
        return self.info

    def close(self) -> None:
        """Remove what we installed (observer, binding, title prefix) and drop the connection."""
        s, self.page.session = self.page.session, None
        if s is None:
            return
        self.page.teardown(s)
        s.close()

    def _on_disconnect(self, reason: str) -> None:
        self.network.lost()
        self.board.log("WARN", f"browser connection lost: {reason}")
        self.board.emit(Disconnected(reason))

    # ------------------------------------------------------------------ page reads and the click

    def identity(self, timeout: float | None = None) -> TabIdentity:
        """URL, title (without our prefix), post id and source image id of the attached tab."""
        return self.page.identity(timeout)

    def capture_prompt(self) -> str:
        """The editor's current text ("" if there is no editor)."""
        return self.actions.capture_prompt()

    def set_title(self, text: str) -> None:
        """Prefix the tab's title with `text` ("" restores the page's own title)."""
        self.page.set_title(text)

    def execute_click(self, cmd: ClickMakeVideo) -> None:
        """Write cmd.prompt, click the generate button, confirm by the generation request (blocking)."""
        self.actions.execute_click(cmd)


__all__ = [
    "BrowserLink",
    "post_id_from_url",
    "media_id_from_src",
    "BrowserError",
    "CdpTimeout",
]
