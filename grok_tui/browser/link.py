"""BrowserLink: the one class the rest of the app uses to talk to the Grok tab, a façade over the link's modules.

It finds the browser's DevTools endpoint (endpoint), holds one browser-level
connection (cdp) on which it discovers the tabs and attaches to the chosen one
only (tabs), reads the tab (page), its
generation stream (network) and its observer's signals (dom), tags what they
emit with the attempt it belongs to (attempts), and carries out the engine's
ClickMakeVideo (actions). `emit` is called from pychrome's threads (and from
the thread that called execute_click); it must be thread safe and must not
block (e.g. Textual's `app.post_message`).

Never logs request headers, cookies or tokens; never resizes or emulates the tab;
touches only the chosen tab. It navigates only when a batch asks (open_post: the
chosen tab, to a post on its own origin).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING

from ..engine.events import ClickMakeVideo
from ..sanitize import page_text, strip_url
from .actions import CONFIRM_TIMEOUT, Actions, OpenedPost
from .attempts import AttemptBoard
from .cdp import PERMISSION_WAIT_S, BrowserError, CdpError, CdpSession, CdpTimeout, Connection, NoMatchingTab, NothingListening, log
from .dom import DomSignals
from .download import fetch_resource
from .download import resolve as resolve_url
from .endpoint import ATTACH_DEADLINE_S, Deadline, Endpoint, EndpointSpec, StalePortFile, resolve
from .guard import OptionsGuard
from .network import GenerationWatch
from .observer import SignalGate, merge_selectors
from .page import Expect, Page, media_id_from_src, origin_of, post_id_from_url
from .signals import AttachInfo, Attached, AwaitingPermission, Emit, TabIdentity, TabLost, TabsChanged
from .tabs import Tabs

if TYPE_CHECKING:
    from .probe import ProbeReport


# ---------------------------------------------------------------------- the connection opened ahead

_warm: dict[EndpointSpec, Future] = {}
_warm_lock = threading.Lock()


def warm_up(spec: EndpointSpec, endpoint: Endpoint | None = None, *, deadline_s: float = ATTACH_DEADLINE_S) -> None:
    """Open the browser connection and its tab list in a thread now, while the caller goes on (the UI
    loads and draws its first screen); the next BrowserLink for `spec` takes them over.

    Only for a classic endpoint (Chrome started with --remote-debugging-port: `endpoint.browser`, from
    /json/version): nothing to allow there. For Chrome's chrome://inspect toggle the link connects
    itself, when it attaches, and says that Chrome asks. Nothing is attached or installed on a tab.
    A connection opened ahead that failed is dropped: the link connects itself, with its own errors.
    """

    def work() -> tuple[Endpoint, dict, Tabs] | None:
        ep = endpoint or resolve(spec, deadline_s=deadline_s)
        if not ep.browser:
            return None
        conn = Connection(ep.ws_url, deadline_s=deadline_s, permission_wait_s=deadline_s)
        try:
            version = conn.call("Browser.getVersion", timeout=deadline_s)
            return ep, version, Tabs(conn, lambda: None, timeout=deadline_s)
        except BaseException:
            conn.close()
            raise

    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(work())
        except BaseException as exc:  # the link connects itself and says what is wrong
            future.set_exception(exc)

    with _warm_lock:
        if spec in _warm:
            return
        _warm[spec] = future
    threading.Thread(target=run, name="cdp-warm-up", daemon=True).start()


def _take_warm(spec: EndpointSpec, wait_s: float) -> tuple[Endpoint, dict, Tabs] | None:
    """The connection opened ahead for `spec` (waiting for it up to `wait_s`), once; None when there is none."""
    with _warm_lock:
        future = _warm.pop(spec, None)
    if future is None:
        return None
    try:
        got = future.result(timeout=max(wait_s, 0.0))
    except FutureTimeout:
        future.add_done_callback(_close_warm)
        return None
    except Exception as exc:
        log.debug("the connection opened ahead failed: %s", exc)
        return None
    if got is not None and not got[2].conn.alive:
        return None
    return got


def _close_warm(future: Future) -> None:
    try:
        got = future.result()
    except Exception:
        return
    if got is not None:
        got[2].conn.close()


class BrowserLink:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 9222,
        tab_match: str = "grok.com/imagine",
        emit: Emit,
        selectors: dict | None = None,
        call_timeout: float = 5.0,
        confirm_timeout: float = CONFIRM_TIMEOUT,
        endpoint: EndpointSpec | None = None,
        allow_option_change: bool = False,
        tab_wait_s: float = 30.0,
        owner: dict | None = None,
        permission_wait_s: float = PERMISSION_WAIT_S,
        attach_deadline_s: float = ATTACH_DEADLINE_S,
    ):
        """`endpoint` says where Chrome is (settings.endpoint_spec()); without it, host:port the classic way.

        An attach (`begin_attach` ... `end_attach`, or one `list_tabs` / `attach` call) has one
        deadline, `attach_deadline_s`, plus at most `permission_wait_s` while Chrome asks the user."""
        self.spec = endpoint or EndpointSpec(host=host, port=port)
        self.host, self.port, self.tab_match = self.spec.host, self.spec.port, tab_match
        self.endpoint: Endpoint | None = None
        self._tabs: Tabs | None = None
        self._version: dict = {}
        self._announce = ""  # said once the first attach on a new connection succeeded
        self._chosen_target: str | None = None
        self.selectors = merge_selectors(selectors)
        self.call_timeout = call_timeout
        self.permission_wait_s = permission_wait_s
        self.attach_deadline_s = attach_deadline_s
        self._deadline: Deadline | None = None
        self._waiting_since: float | None = None
        self.info: AttachInfo | None = None
        self.board = AttemptBoard(emit)
        self.page = Page(self.board, self.selectors, call_timeout, owner)
        self.network = GenerationWatch(self.page, self.board)
        self.dom = DomSignals(self.page, self.board)
        self.actions = Actions(self.page, self.board, self.network, self.dom, confirm_timeout, tab_wait_s)
        self.guard = OptionsGuard(self.page, self.board, allow_change=allow_option_change)
        self._files: CdpSession | None = None  # a second session on the tab, only for reading video files
        self._files_lock = threading.Lock()
        self.page.on_new_document = self._recover

    # ------------------------------------------------------------------ state

    @property
    def attached(self) -> bool:
        s = self.page.session
        return s is not None and s.alive

    @property
    def browser_connected(self) -> bool:
        """The browser-level connection is up (tab events arrive), whether or not a tab is attached."""
        tabs = self._tabs
        return tabs is not None and tabs.conn.alive

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

    def begin_attach(self) -> None:
        """An attach starts (the runner's list_tabs, then attach): one deadline for all of it."""
        self._deadline = Deadline(self.attach_deadline_s)

    def end_attach(self) -> None:
        self._deadline = None

    def _budget(self) -> tuple[Deadline, bool]:
        """The running attach's deadline, or a new one for this call alone (True: clear it after)."""
        if self._deadline is not None:
            return self._deadline, False
        self._deadline = Deadline(self.attach_deadline_s)
        return self._deadline, True

    def _browser(self, d: Deadline) -> Tabs:
        """The browser connection and its live tab list (connecting first if there is none)."""
        tabs = self._tabs
        if tabs is not None and tabs.conn.alive:
            return tabs
        warm = _take_warm(self.spec, d.bound(self.call_timeout, "the connection opened ahead"))
        if warm is not None:
            return self._adopt(*warm)
        ep = resolve(self.spec, deadline_s=d.bound(self.call_timeout, "finding the DevTools endpoint"))
        d.where = f"{ep.host}:{ep.port}"
        self._waiting_since = None
        try:
            conn = Connection(ep.ws_url, deadline_s=d.bound(self.call_timeout, "the WebSocket handshake"),
                              permission_wait_s=self.permission_wait_s, on_waiting=lambda: self._waiting(ep))
        except NothingListening:
            if ep.port_file is not None:
                raise StalePortFile(ep.port_file, ep.port) from None
            raise
        finally:
            if self._waiting_since is not None:  # the user's time to allow it is not the attach's
                d.extend(time.monotonic() - self._waiting_since)
        try:
            version = conn.call("Browser.getVersion", timeout=d.bound(self.call_timeout, "Browser.getVersion"))
            tabs = Tabs(conn, self._tabs_changed, timeout=d.bound(self.call_timeout, "discovering the tabs"))
        except BaseException:
            conn.close()
            raise
        return self._adopt(ep, version, tabs)

    def _adopt(self, ep: Endpoint, version: dict, tabs: Tabs) -> Tabs:
        self.endpoint, self._tabs = ep, tabs
        self._version = version
        self.host, self.port = ep.host, ep.port
        self._announce = f"connected to {version.get('product') or 'Chrome'} ({ep.label})"
        tabs.on_change = self._tabs_changed
        return tabs

    def _waiting(self, ep: Endpoint) -> None:
        self._waiting_since = time.monotonic()
        self.board.emit(AwaitingPermission(f"{ep.host}:{ep.port}", self.permission_wait_s))

    def _tabs_changed(self) -> None:
        tabs = self._tabs
        if tabs is not None:
            self.board.emit(TabsChanged(tuple(_shown(self._matching(tabs.pages())))))

    def _matching(self, pages: list[dict]) -> list[dict]:
        return [t for t in pages if self.tab_match in t["url"]]

    def list_tabs(self) -> list[dict]:
        """The page tabs whose URL contains tab_match: [{id, url, title}], in Chrome's order."""
        d, own = self._budget()
        try:
            return _shown(self._matching(self._browser(d).pages()))
        except CdpTimeout as exc:
            raise (d.expired(exc.method) if d.left() <= 0 else exc) from None
        finally:
            if own:
                self._deadline = None

    def attach(self, target_id: str | None = None, *, watch_only: bool = False) -> AttachInfo:
        """Attach to a page tab whose URL contains tab_match. Raises BrowserError subclasses,
        or TabBusy when another live grok-tui controls the tab (unless `watch_only`).

        `target_id` picks one (the user's choice); without it the tab attached before is
        preferred (a re-attach stays on the chosen tab), else the first match. All of it
        within the attach's one deadline (AttachTimeout).
        """
        d, own = self._budget()
        try:
            return self._attach(d, target_id, watch_only)
        except CdpTimeout as exc:
            raise (d.expired(exc.method) if d.left() <= 0 else exc) from None
        finally:
            if own:
                self._deadline = None

    def _attach(self, d: Deadline, target_id: str | None, watch_only: bool) -> AttachInfo:
        t0 = time.monotonic()
        old, self.page.session = self.page.session, None
        if old is not None:
            old.close()
        tabs = self._browser(d)
        tabs.refresh(d.bound(self.call_timeout, "listing the tabs"))
        pages = tabs.pages()
        matches = self._matching(pages)
        if not matches:
            raise NoMatchingTab(self.tab_match, [t["url"] for t in pages])
        wanted = target_id or self._chosen_target
        target = next((t for t in matches if t["id"] == wanted), None)
        if target is None and target_id:
            raise NoMatchingTab(self.tab_match, [t["url"] for t in matches])
        target = target or matches[0]
        self._chosen_target = target["id"]
        session = tabs.attach(target["id"], timeout=d.bound(self.call_timeout, "Target.attachToTarget"))
        session.deadline = d  # every call of the set-up within what is left
        try:
            for part in (self.page, self.network, self.dom, self.guard):
                part.register(session)
            session.on_disconnect(self._on_disconnect)
            ident = self.page.setup(session, target["url"], watch_only=watch_only)
            self.guard.setup(session, self.call_timeout)
        except BaseException:
            self.page.session = None
            session.deadline = None
            session.close()
            raise
        session.deadline = None
        self.info = AttachInfo(
            host=self.host,
            port=self.port,
            browser=str(self._version.get("product", "")),
            protocol=str(self._version.get("protocolVersion", "")),
            target_id=target["id"],
            identity=ident,
            matched=len(matches),
            pages=len(pages),
            attach_ms=round((time.monotonic() - t0) * 1000.0, 1),
            endpoint=self.endpoint.label if self.endpoint else "",
        )
        if len(matches) > 1 and not wanted:
            self.board.log("WARN", f"{len(matches)} tabs match {self.tab_match!r}; using the first: {ident.url}")
        if self._announce:
            self.board.log("INFO", self._announce)
            self._announce = ""
        if self.actions.expect is None or not self.actions.expect.origin:
            self.actions.expect = Expect(self.tab_match, origin_of(ident.url), ident.media_id)
        self.board.emit(Attached(self.info))
        self._recover()  # a re-attach mid-attempt: find that attempt's outcome
        return self.info

    def _recover(self) -> None:
        expect = self.actions.expect
        self.network.recover(expect.media_id if expect else None)

    def session_identity(self, timeout: float = 5.0) -> TabIdentity:
        """The tab's identity once it shows a loaded page with a source image (waits up to `timeout`
        while it loads): what a session binds to."""
        self.actions.wait_for_post(timeout)
        return self.page.identity()

    def bind_session(self, url: str | None, media_id: str | None) -> None:
        """The session's page (its origin and source image): every write and click checks the tab still shows it."""
        self.actions.expect = Expect(self.tab_match, origin_of(url), media_id.lower() if media_id else None)

    def peek(self, target_id: str) -> TabIdentity | None:
        """Read a matching tab's identity with one evaluate, enabling and installing nothing (a re-attach candidate)."""
        tabs = self._browser(self._deadline or Deadline(self.attach_deadline_s))
        if not any(t["id"] == target_id for t in self._matching(tabs.pages())):
            return None
        try:
            session = tabs.open(target_id, timeout=self.call_timeout)
        except BrowserError:
            return None
        try:
            where = session.call("Runtime.evaluate", timeout=self.call_timeout, returnByValue=True,
                                 expression=self.page.where_expression(self.tab_match))
        except BrowserError:
            return None
        finally:
            session.close()
        v = (where.get("result") or {}).get("value")
        if not isinstance(v, dict):
            return None
        url = str(v.get("href", ""))
        src = v.get("mediaSrc") if isinstance(v.get("mediaSrc"), str) else None
        return TabIdentity(url=strip_url(url), title="", post_id=post_id_from_url(url), media_id=media_id_from_src(src),
                           target_id=target_id)

    def close(self) -> None:
        """Remove what we installed (observer, binding, title prefix) and drop the connection."""
        self._close_files()
        s, self.page.session = self.page.session, None
        if s is not None:
            if s.alive:
                self.guard.teardown(s)
            self.page.teardown(s)
            s.close()
        tabs, self._tabs = self._tabs, None
        if tabs is not None:
            tabs.conn.close()

    def _on_disconnect(self, reason: str) -> None:
        self.network.lost()
        self.board.log("WARN", f"browser connection lost: {reason}")
        self.board.emit(TabLost(reason))

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

    def execute_click(self, cmd: ClickMakeVideo, epoch: int | None = None) -> None:
        """Write cmd.prompt, click the generate button, confirm by the generation request (blocking).

        `epoch`: `click_epoch` read when the click was asked for; a session_ended() since then means no click."""
        self.actions.execute_click(cmd, epoch)

    def prepare_click(self, prompt: str, session: int | None, attempt: int, epoch: int | None = None) -> bool:
        """During the cooldown: write and verify the prompt, find the button (blocking; nothing is clicked).

        The execute_click of `attempt` then checks all of it in one evaluate and only sends the mouse events."""
        return self.actions.prepare_click(prompt, session, attempt, epoch)

    def check_lead(self) -> float:
        """Seconds before a prepared click's deadline its check should go (check_ahead): about its round trip."""
        return self.actions.check_lead()

    def check_ahead(self, session: int | None, attempt: int) -> bool:
        """Right before the deadline: send the prepared click's check, not waiting for its answer (non-blocking).

        execute_click then uses that answer instead of asking at the deadline; it still clicks only when asked."""
        return self.actions.check_ahead(session, attempt)

    @property
    def click_epoch(self) -> int:
        return self.actions.epoch

    def session_ended(self) -> None:
        """The session is over: a click still waiting (for the session's post, for a cover to clear) is never
        made, and no attempt's outcome is looked for in the post list any more."""
        self.actions.abort()
        with self.board.lock:
            self.board.open_attempt = None

    def fetch_video(self, url: str):
        """Read `url` through the browser's own session (its cookies never reach grok-tui); a downloads.Response.

        While a generation stream is open, the body is read slowly (browser.download.BUSY_RATE) and
        not at all for a moment after each of its events (GenerationWatch.hold), so that they are
        not held up.

        Blocking: call it from a worker thread. Raises downloads.DownloadError.
        """
        from ..downloads import DownloadError

        if "://" not in url:
            try:
                url = resolve_url(url, self.page.identity(timeout=2.0).url)
            except BrowserError as exc:
                raise DownloadError(f"the page's address is unknown: {exc}") from None
        try:
            files = self._files_session()
        except BrowserError as exc:
            raise DownloadError(f"could not open a session on the tab for the file: {exc}") from None
        return fetch_resource(files.call, url, frame_id=self.page.main_frame, busy=self.network.live,
                              hold=self.network.hold)

    def _files_session(self) -> CdpSession:
        """A second flattened session on the same tab, over the same connection, only for reading files.

        Calls are serialized per session: a download's many large IO.read answers then neither wait
        for nor hold up the main session's calls (the stream's follow-ups, the click).
        """
        main = self.page.require()
        with self._files_lock:
            s = self._files
            if s is not None and s.alive:
                return s
            conn = main.connection
            res = conn.call("Target.attachToTarget", {"targetId": main.target_id, "flatten": True}, timeout=self.call_timeout)
            sid = res.get("sessionId")
            if not isinstance(sid, str):
                raise CdpError("Target.attachToTarget", "no sessionId")
            s = self._files = CdpSession(dict(main.target), connection=conn, session_id=sid)
            return s

    def _close_files(self) -> None:
        with self._files_lock:
            s, self._files = self._files, None
        if s is not None:
            s.close()

    def button_cover(self) -> str | None:
        """None when nothing covers the generate button, else a sentence naming what does (blocking)."""
        return self.actions.button_cover()

    def probe(self, *, write_test: bool = True, skip_reason: str = "") -> ProbeReport:
        """Check the attached page for every signal a session needs (blocking; `grok-tui doctor`, "page: check").

        `write_test`: write a marker into the editor and put the user's text back exactly (nothing is sent).
        """
        from .probe import Probe  # loaded for the page check only, not with every attach

        return Probe(self.page, self.dom, self.network).run(write_test=write_test, skip_reason=skip_reason)

    def open_post(self, url: str | None, wait_s: float = 10.0) -> OpenedPost:
        """Send the chosen tab to `url` (a post on its own origin; None: stay) and wait for the composer (blocking)."""
        here = self.info.identity.url if self.info is not None else None
        return self.actions.open_post(url, wait_s, origin_of(here) if here else None)


def _shown(tabs: list[dict]) -> list[dict]:
    """Tabs as they leave the link: page text enters here (no query string, control characters escaped)."""
    return [{"id": t["id"], "url": strip_url(t["url"]), "title": _tab_title(t["url"], t["title"])} for t in tabs]


def _tab_title(url: str, title: str) -> str:
    # A page without a title is listed under its URL without the scheme, query string included.
    if title and title in (url, url.split("://", 1)[-1]):
        return page_text(strip_url(url).split("://", 1)[-1])
    return page_text(title)


__all__ = [
    "BrowserLink",
    "post_id_from_url",
    "media_id_from_src",
    "BrowserError",
    "CdpTimeout",
]
