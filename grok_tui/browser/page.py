"""The attached page: its CDP session, evaluate, identity and title, route tracking and the observer install.

Never navigates, resizes or emulates the tab. Follow-up CDP calls that an event
handler needs (identity after a route change, the body cross-check) run on
`later`'s worker, not on pychrome's single event thread, where they would hold
up the stream.
"""

from __future__ import annotations

import dataclasses
import json
import re
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from ..engine.events import RouteChanged
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


def js_call(fn: str, *args) -> str:
    """A page expression calling the JS function expression `fn` with JSON arguments."""
    return f"({fn})({', '.join(json.dumps(a) for a in args)})"


_JS_IDENTITY = r"""(function (imgSels, videoSel) {
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
  var t = document.title, pre = window.__grokTuiTitlePrefix;
  if (pre && t.indexOf(pre + %s) === 0) t = t.slice(pre.length + %d);
  return { url: String(location.href), title: String(t), mediaSrc: src ? String(src) : null };
})""" % (json.dumps(TITLE_SEP), len(TITLE_SEP))

# Changes only the title (our prefix on, or off again).
_JS_TITLE = r"""(function (prefix) {
  var SEP = %s, K = "__grokTuiTitlePrefix";
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

_JS_STOP_OBSERVER = "(window.%s && window.%s.stop) ? (window.%s.stop(), true) : false" % ((OBSERVER_FLAG,) * 3)


def _log_failure(future) -> None:
    exc = future.exception()
    if exc is not None:
        log.debug("link follow-up failed: %r", exc)


class Page:
    def __init__(self, board: AttemptBoard, selectors: dict, call_timeout: float):
        self.board = board
        self.selectors = selectors
        self.call_timeout = call_timeout
        self.source = observer_source(selectors)
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
        s.on("Page.navigatedWithinDocument", self._on_within_document)
        s.on("Inspector.detached", lambda p: s.mark_disconnected(f"DevTools detached ({p.get('reason', '?')})"))
        s.on("Inspector.targetCrashed", lambda p: s.mark_disconnected("the tab crashed"))

    def setup(self, session: CdpSession, target_url: str) -> TabIdentity:
        """Enable the domains, install binding and observer; the tab's identity."""
        self._ready_for_install = False
        self.main_frame = None
        self._script_id = None
        self._last_path = None
        self.session = session
        t = self.call_timeout
        for domain in ("Inspector", "Page", "Runtime"):
            session.call(f"{domain}.enable", timeout=t)
        session.call("Network.enable", timeout=t, maxPostDataSize=0)
        tree = session.call("Page.getFrameTree", timeout=t)
        frame = (tree.get("frameTree") or {}).get("frame") or {}
        self.main_frame = frame.get("id")
        session.call("Runtime.addBinding", timeout=t, name=BINDING_NAME)
        res = session.call("Page.addScriptToEvaluateOnNewDocument", timeout=t, source=self.source)
        self._script_id = res.get("identifier")
        ident = self.identity()
        if not ident.url.startswith(("http://", "https://")):
            # still loading: the target list already knows where the tab is going
            ident = dataclasses.replace(ident, url=target_url, post_id=post_id_from_url(target_url))
        with self.board.lock:
            self._last_post_id = ident.post_id
            self._last_path = urlsplit(ident.url).path
        self._ready_for_install = True
        self.install()
        return ident

    def teardown(self, s: CdpSession) -> None:
        """Remove what we installed (title prefix, observer, binding, script) while `s` is alive."""
        steps = [
            ("Runtime.evaluate", {"expression": js_call(_JS_TITLE, ""), "returnByValue": True}),
            ("Runtime.evaluate", {"expression": _JS_STOP_OBSERVER, "returnByValue": True}),
            ("Runtime.removeBinding", {"name": BINDING_NAME}),
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
        except BrowserError as exc:
            log.debug("observer install failed: %s", exc)

    # ------------------------------------------------------------------ reads

    def identity(self, timeout: float | None = None) -> TabIdentity:
        """URL, title (without our prefix), post id and source image id of the attached tab."""
        v = self.eval(
            js_call(_JS_IDENTITY, as_list(self.selectors.get("sourceImage")), str(self.selectors.get("preferredVideo"))),
            timeout=timeout,
        )
        if not isinstance(v, dict):
            raise CdpError("Runtime.evaluate", "no identity")
        url = v.get("url") if isinstance(v.get("url"), str) else ""
        title = v.get("title") if isinstance(v.get("title"), str) else ""
        src = v.get("mediaSrc") if isinstance(v.get("mediaSrc"), str) else None
        s = self.session
        return TabIdentity(
            url=url[:4096],
            title=title[:500],
            post_id=post_id_from_url(url),
            media_id=media_id_from_src(src),
            target_id=s.target_id if s else None,
        )

    def set_title(self, text: str) -> None:
        """Prefix the tab's title with `text` ("" restores the page's own title)."""
        self.eval(js_call(_JS_TITLE, str(text)[:200]))

    # ------------------------------------------------------------------ routes and contexts

    def route(self, url_or_path: str) -> None:
        """The tab is at `url_or_path`: emit TabChanged, and RouteChanged when the post changed."""
        path = urlsplit(url_or_path).path if "://" in url_or_path else url_or_path
        with self.board.lock:
            if path == self._last_path:
                return
            self._last_path = path
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
            self.board.emit(TabChanged(ident))
        if changed:
            self.board.emit(RouteChanged(post_id, media_id))

    def _on_within_document(self, p: dict) -> None:
        if self.main_frame and p.get("frameId") != self.main_frame:
            return
        url = p.get("url")
        if isinstance(url, str):
            self.later(self.route, url)

    def _on_frame_navigated(self, p: dict) -> None:
        frame = p.get("frame") or {}
        if not isinstance(frame, dict) or frame.get("parentId"):
            return
        if frame.get("id"):
            self.main_frame = frame["id"]
        url = frame.get("url")
        if isinstance(url, str):
            self.later(self.route, url)
        self.install()

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
        self.install(cid if isinstance(cid, int) else None)
