"""The attached page: its CDP session, evaluate, identity and title, route tracking and the observer install.

Never navigates, resizes or emulates the tab. Follow-up CDP calls that an event
handler needs (identity after a route change, the body cross-check) run on
`later`'s worker, not on pychrome's single event thread, where they would hold
up the stream.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..engine.events import RouteChanged
from ..sanitize import page_text, strip_url
from ..tablock import TabBusy
from .attempts import AttemptBoard
from .cdp import BrowserError, CdpError, CdpSession, Disconnected, log
from .observer import BINDING_NAME, OBSERVER_FLAG, as_list, observer_source
from .signals import TabChanged, TabIdentity

_POST_RE = re.compile(r"/imagine/post/([A-Za-z0-9-]+)")
_MEDIA_RE = re.compile(r"imagine-public/images/([A-Za-z0-9_-]+)")
TITLE_SEP = " — "


def post_id_from_url(url: str | None) -> str | None:
    if not url:
        return None
    m = _POST_RE.search(urlsplit(url).path if "://" in url else url)
    return m.group(1).lower() if m else None


def media_id_from_src(src: str | None) -> str | None:
    if not src:
        return None
    m = _MEDIA_RE.search(src)
    return m.group(1).lower() if m else None


def origin_of(url: str | None) -> str:
    try:
        parts = urlsplit(url or "")
    except ValueError:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


@dataclass(frozen=True)
class Expect:
    """The session's page: every prompt write and click first checks the tab still is it."""

    tab_match: str
    origin: str
    media_id: str | None


# Where the tab is, read in one go (a JS function declaration other page functions include).
JS_WHERE_FN = r"""
function __where(imgSels, videoSel, tabMatch) {
  function all(sels) {
    var out = [];
    for (var i = 0; i < sels.length; i++) {
      try { var f = document.querySelectorAll(sels[i]); for (var k = 0; k < f.length; k++) out.push(f[k]); } catch (e) {}
    }
    return out;
  }
  var imgs = all(imgSels), src = null, v = null;
  try { v = document.querySelector(videoSel); } catch (e) {}
  if (v && imgs.length) {
    for (var p = v.parentElement; p && !src; p = p.parentElement) {
      for (var i = 0; i < imgs.length; i++) { if (p.contains(imgs[i])) { src = imgs[i].getAttribute("src"); break; } }
    }
  }
  if (!src && imgs.length) src = imgs[0].getAttribute("src");
  var href = String(location.href);
  return { href: href, origin: String(location.origin), path: String(location.pathname),
           mediaSrc: src ? String(src) : null, tabOk: !!tabMatch && href.indexOf(tabMatch) >= 0 };
}
"""

_JS_WHERE = "(function (a, b, c) {%s; return __where(a, b, c); })" % JS_WHERE_FN

_POST_PATH_RE = re.compile(r"^/imagine/post/[A-Za-z0-9-]+/?$")


def wrong_page(where: object, expect: Expect) -> str | None:
    """None when `where` (from __where) is the session's page, else a sentence saying where the tab is."""
    if not isinstance(where, dict):
        return "the tab's page could not be read"
    shown = strip_url(where.get("href"))
    if not where.get("tabOk"):
        return f"the tab went to {shown}, which does not match the tab setting {expect.tab_match!r}"
    if str(where.get("origin")) != expect.origin:
        return f"the tab went to {shown}, another site than the session's ({expect.origin})"
    if not _POST_PATH_RE.match(str(where.get("path", ""))):
        return f"the tab went to {shown}, which is not an image post"
    media = media_id_from_src(where.get("mediaSrc") if isinstance(where.get("mediaSrc"), str) else None)
    if not expect.media_id:
        return "the session has no source image to check the page against"
    if media != expect.media_id.lower():
        return f"the tab shows image {(media or 'none')[:8]}… at {shown}, not the session's image {expect.media_id[:8]}…"
    return None


def js_call(fn: str, *args) -> str:
    """A page expression calling the JS function expression `fn` with JSON arguments."""
    return f"({fn})({', '.join(json.dumps(a) for a in args)})"


_JS_IDENTITY = r"""(function (imgSels, videoSel, titleKey) {
  function all(sels) {
    var out = [];
    for (var i = 0; i < sels.length; i++) {
      try { var f = document.querySelectorAll(sels[i]); for (var k = 0; k < f.length; k++) out.push(f[k]); } catch (e) {}
    }
    return out;
  }
  var imgs = all(imgSels), src = null;
  var v = null;
  try { v = document.querySelector(videoSel); } catch (e) {}
  if (v && imgs.length) {
    for (var p = v.parentElement; p && !src; p = p.parentElement) {
      for (var i = 0; i < imgs.length; i++) { if (p.contains(imgs[i])) { src = imgs[i].getAttribute("src"); break; } }
    }
  }
  if (!src && imgs.length) src = imgs[0].getAttribute("src");
  var t = document.title, pre = window[titleKey];
  if (pre && t.indexOf(pre + %s) === 0) t = t.slice(pre.length + %d);
  return { url: String(location.href), title: String(t), mediaSrc: src ? String(src) : null };
})""" % (json.dumps(TITLE_SEP), len(TITLE_SEP))

# Changes only the title (our prefix on, or off again).
_JS_TITLE = r"""(function (prefix, K) {
  var SEP = %s;
  var old = window[K], t = document.title;
  if (old && t.indexOf(old + SEP) === 0) t = t.slice(old.length + SEP.length);
  if (prefix) {
    document.title = prefix + SEP + t;
    try { Object.defineProperty(window, K, { value: prefix, configurable: true, writable: true, enumerable: false }); }
    catch (e) { window[K] = prefix; }
  } else {
    document.title = t;
    window[K] = null;
  }
  return t;
})""" % json.dumps(TITLE_SEP)

_JS_STOP_OBSERVER = "(function (f) { return (window[f] && window[f].stop) ? (window[f].stop(), true) : false; })"

# The page-side marker of the instance that controls the tab: {binding, pid, host, command, since}.
# It is alive while its binding is (Chrome removes a binding when its DevTools session ends).
CONTROLLER_KEY = "__grokTuiController"
_JS_HOLDER = """(function (key, mine) {
  var m = window[key];
  if (m && typeof m === "object" && m.binding !== mine && typeof window[m.binding] === "function") {
    return { pid: m.pid, host: m.host, command: m.command, since: m.since };
  }
  return null;
})"""
_JS_MARK = """(function (key, mine) {
  var m = window[key];
  if (m && typeof m === "object" && m.binding !== mine.binding && typeof window[m.binding] === "function") return false;
  try { Object.defineProperty(window, key, { value: mine, configurable: true, writable: true, enumerable: false }); }
  catch (e) { window[key] = mine; }
  return true;
})"""
_JS_UNMARK = """(function (key, binding) {
  var m = window[key];
  if (m && m.binding === binding) { try { delete window[key]; } catch (e) { window[key] = undefined; } return true; }
  return false;
})"""


def _log_failure(future) -> None:
    exc = future.exception()
    if exc is not None:
        log.debug("link follow-up failed: %r", exc)


def _gone(holder: dict) -> bool:
    """A marker left by a grok-tui of this machine whose process has ended (Chrome may not yet have
    dropped its binding)."""
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


class Page:
    def __init__(self, board: AttemptBoard, selectors: dict, call_timeout: float, owner: dict | None = None):
        self.board = board
        self.selectors = selectors
        self.call_timeout = call_timeout
        # This instance's own names in the page: another grok-tui never removes what this one installs.
        token = secrets.token_hex(4)
        self.binding = f"{BINDING_NAME}_{token}"
        self.flag = f"{OBSERVER_FLAG}_{token}"
        self.title_key = f"__grokTuiTitle_{token}"
        self.owner = dict(owner or {})  # who we are, for the page-side controller marker
        self.controller = False  # set by setup(): this instance controls the tab (else it only watches)
        self.source = observer_source(selectors, self.binding, self.flag)
        self.moved = threading.Event()  # set on every route change or new document (wakes a click waiting for its page)
        self.on_new_document = None  # called (on the follow-up worker) when the main frame loads a new document
        self._route_pending: str | None = None
        self._route_scheduled = False
        self._last_origin = ""
        self.session: CdpSession | None = None
        self.main_frame: str | None = None
        self._script_id: str | None = None
        self._ready_for_install = False
        self._last_post_id: str | None = None
        self._last_path: str | None = None
        self._slow = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grok-tui-link")

    # ------------------------------------------------------------------ calls

    def require(self) -> CdpSession:
        s = self.session
        if s is None:
            raise Disconnected("not attached")
        if not s.alive:
            raise Disconnected(s.disconnect_reason or "not attached")
        return s

    def call(self, method: str, timeout: float | None = None, **params) -> dict:
        return self.require().call(method, timeout=timeout or self.call_timeout, **params)

    def call_many(self, calls: list[tuple[str, dict]], timeout: float | None = None) -> list[dict]:
        """`calls` sent at once, in order; their answers awaited together (one round trip)."""
        return self.require().call_many(calls, timeout=timeout or self.call_timeout)

    def eval(self, expression: str, timeout: float | None = None, context_id: int | None = None):
        params = {"expression": expression, "returnByValue": True, "awaitPromise": False}
        if context_id is not None:
            params["contextId"] = context_id
        res = self.call("Runtime.evaluate", timeout=timeout, **params)
        if res.get("exceptionDetails"):
            det = res["exceptionDetails"]
            text = det.get("text") if isinstance(det, dict) else None
            exc = det.get("exception", {}) if isinstance(det, dict) else {}
            desc = exc.get("description") if isinstance(exc, dict) else None
            raise CdpError("Runtime.evaluate", str(desc or text or "script error").splitlines()[0][:200])
        r = res.get("result")
        return r.get("value") if isinstance(r, dict) else None

    def later(self, fn, *args) -> None:
        """Run `fn(*args)` on the follow-up worker; its failure is logged, never raised."""
        try:
            self._slow.submit(fn, *args).add_done_callback(_log_failure)
        except RuntimeError:  # shut down
            pass

    # ------------------------------------------------------------------ attach / detach

    def register(self, s: CdpSession) -> None:
        s.on("Runtime.executionContextCreated", self._on_context_created)
        s.on("Page.frameNavigated", self._on_frame_navigated)
        s.on("Page.navigatedWithinDocument", self._on_within_document, inline=True)  # a route read: page.later
        s.on("Inspector.detached", lambda p: s.mark_disconnected(f"DevTools detached ({p.get('reason', '?')})"))
        s.on("Inspector.targetCrashed", lambda p: s.mark_disconnected("the tab crashed"))

    def setup(self, session: CdpSession, target_url: str, *, watch_only: bool = False) -> TabIdentity:
        """Enable the domains, install binding and observer; the tab's identity.

        Unless `watch_only`, first make sure no other live grok-tui (on any machine) controls the
        tab (its page-side marker), raising TabBusy before anything is installed."""
        self._ready_for_install = False
        self.main_frame = None
        self._script_id = None
        self._last_path = None
        self.session = session
        self.controller = False
        t = self.call_timeout
        if not watch_only:
            holder = self.eval(js_call(_JS_HOLDER, CONTROLLER_KEY, self.binding))
            if isinstance(holder, dict) and not _gone(holder):
                clean = {k: page_text(v, 80) if isinstance(v, str) else v for k, v in holder.items()}
                raise TabBusy(str(session.target_id), clean)
            self.controller = True
        # One round trip for the lot (Chrome runs them in the order sent, as if each waited for the
        # one before); none needs an earlier one's answer. An error answer raises as call() would.
        *_enabled, tree, _bound, res = session.call_many([
            ("Inspector.enable", {}),
            ("Page.enable", {}),
            ("Runtime.enable", {}),
            ("Network.enable", {"maxPostDataSize": 0}),
            ("Page.getFrameTree", {}),
            ("Runtime.addBinding", {"name": self.binding}),
            ("Page.addScriptToEvaluateOnNewDocument", {"source": self.source}),
        ], timeout=t)
        frame = (tree.get("frameTree") or {}).get("frame") or {}
        self.main_frame = frame.get("id")
        self._script_id = res.get("identifier")
        ident = self.identity()
        if not ident.url.startswith(("http://", "https://")):
            # still loading: the target list already knows where the tab is going
            ident = dataclasses.replace(ident, url=target_url, post_id=post_id_from_url(target_url))
        with self.board.lock:
            self._last_post_id = ident.post_id
            self._last_origin = origin_of(ident.url)
            self._last_path = self._last_origin + urlsplit(ident.url).path
        self._ready_for_install = True
        self.install()
        return ident

    def teardown(self, s: CdpSession) -> None:
        """Remove what we installed (title prefix, observer, binding, script) while `s` is alive."""
        steps = [
            ("Runtime.evaluate", {"expression": js_call(_JS_TITLE, "", self.title_key), "returnByValue": True}),
            ("Runtime.evaluate", {"expression": js_call(_JS_STOP_OBSERVER, self.flag), "returnByValue": True}),
            ("Runtime.evaluate", {"expression": js_call(_JS_UNMARK, CONTROLLER_KEY, self.binding), "returnByValue": True}),
            ("Runtime.removeBinding", {"name": self.binding}),
        ]
        if self._script_id:
            steps.append(("Page.removeScriptToEvaluateOnNewDocument", {"identifier": self._script_id}))
        for method, params in steps:
            if not s.alive:
                break
            try:
                s.call(method, timeout=1.0, **params)
            except BrowserError as exc:
                log.debug("close: %s failed: %s", method, exc)

    def install(self, context_id: int | None = None) -> None:
        if not self._ready_for_install:
            return
        try:
            self.eval(self.source, context_id=context_id)
            if self.controller:
                mine = dict(self.owner, binding=self.binding)
                self.eval(js_call(_JS_MARK, CONTROLLER_KEY, mine), context_id=context_id)
        except BrowserError as exc:
            log.debug("observer install failed: %s", exc)

    # ------------------------------------------------------------------ reads

    def identity(self, timeout: float | None = None) -> TabIdentity:
        """URL, title (without our prefix), post id and source image id of the attached tab."""
        v = self.eval(
            js_call(_JS_IDENTITY, as_list(self.selectors.get("sourceImage")), str(self.selectors.get("preferredVideo")),
                    self.title_key),
            timeout=timeout,
        )
        if not isinstance(v, dict):
            raise CdpError("Runtime.evaluate", "no identity")
        url = v.get("url") if isinstance(v.get("url"), str) else ""
        title = v.get("title") if isinstance(v.get("title"), str) else ""
        src = v.get("mediaSrc") if isinstance(v.get("mediaSrc"), str) else None
        s = self.session
        # page text enters here, once: no query string or fragment, control characters escaped
        return TabIdentity(
            url=strip_url(url),
            title=page_text(title),
            post_id=post_id_from_url(url),
            media_id=media_id_from_src(src),
            target_id=s.target_id if s else None,
        )

    def set_title(self, text: str) -> None:
        """Prefix the tab's title with `text` ("" restores the page's own title)."""
        self.eval(js_call(_JS_TITLE, str(text)[:200], self.title_key))

    def where_expression(self, tab_match: str) -> str:
        return js_call(_JS_WHERE, as_list(self.selectors.get("sourceImage")), str(self.selectors.get("preferredVideo")),
                       tab_match)

    def where(self, tab_match: str, timeout: float | None = None) -> dict | None:
        """The live URL, origin, path and source image of the tab (for `wrong_page`)."""
        v = self.eval(self.where_expression(tab_match), timeout=timeout)
        return v if isinstance(v, dict) else None

    # ------------------------------------------------------------------ routes and contexts

    def request_route(self, url_or_path: str) -> None:
        """A route signal (any thread): the newest wins; at most one route read is queued."""
        self.moved.set()
        with self.board.lock:
            self._route_pending = url_or_path
            if self._route_scheduled:
                return
            self._route_scheduled = True
        self.later(self._drain_routes)

    def _drain_routes(self) -> None:
        while True:
            with self.board.lock:
                url, self._route_pending = self._route_pending, None
                if url is None:
                    self._route_scheduled = False
                    return
            self.route(url)

    def route(self, url_or_path: str) -> None:
        """The tab is at `url_or_path`: emit TabChanged, and RouteChanged when the post changed."""
        with self.board.lock:
            if "://" in url_or_path:
                self._last_origin = origin_of(url_or_path)
                path = urlsplit(url_or_path).path
            else:
                path = url_or_path
            key = self._last_origin + path  # another site on the same path is a change too
            if key == self._last_path:
                return
            self._last_path = key
        post_id = post_id_from_url(path)
        try:
            ident = self.identity(timeout=1.0)
        except BrowserError:
            ident = None
        media_id = ident.media_id if ident else None
        with self.board.lock:
            changed = post_id != self._last_post_id
            self._last_post_id = post_id
        if ident is not None:
            self.board.emit_page(TabChanged(ident))
        if changed:
            self.board.emit_page(RouteChanged(post_id, media_id))

    def _on_within_document(self, p: dict) -> None:
        if self.main_frame and p.get("frameId") != self.main_frame:
            return
        url = p.get("url")
        if isinstance(url, str):
            self.request_route(url)

    def _on_frame_navigated(self, p: dict) -> None:
        frame = p.get("frame") or {}
        if not isinstance(frame, dict) or frame.get("parentId"):
            return
        if frame.get("id"):
            self.main_frame = frame["id"]
        url = frame.get("url")
        if isinstance(url, str):
            self.request_route(url)
        self.install()
        if self.on_new_document is not None:
            self.later(self.on_new_document)

    def _on_context_created(self, p: dict) -> None:
        # A new document: addScriptToEvaluateOnNewDocument gives it the observer; installing
        # again here makes sure (the observer ignores a second install).
        ctx = p.get("context") or {}
        aux = ctx.get("auxData") or {}
        if not isinstance(aux, dict) or not aux.get("isDefault"):
            return
        if self.main_frame and aux.get("frameId") != self.main_frame:
            return
        cid = ctx.get("id")
        self.moved.set()
        self.install(cid if isinstance(cid, int) else None)


def norm_text(s: str) -> str:
    """An editor's text as compared with the prompt: one kind of newline, no trailing one, no NBSP."""
    s = s.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    return s[:-1] if s.endswith("\n") else s
