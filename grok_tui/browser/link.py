"""BrowserLink: the one class the rest of the app uses to talk to the Grok tab.

It attaches to the user's Chrome over CDP, turns the tab's network stream and
DOM into engine events (tagged with the attempt they belong to), and carries
out the engine's ClickMakeVideo command. `emit` is called from pychrome's
threads (and from the thread that called execute_click); it must be thread
safe and must not block (e.g. Textual's `app.post_message`).

Never logs request headers, cookies or tokens; never navigates, resizes or
emulates the tab; touches only the chosen tab.
"""

from __future__ import annotations

import dataclasses

import base64
import functools
from concurrent.futures import ThreadPoolExecutor
import json
import re
import threading
import time
from collections import OrderedDict
from typing import Callable
from urllib.parse import urlsplit

from ..engine.events import (
    AttemptProgress,
    ClickFailed,
    ClickMakeVideo,
    ClickSent,
    RateLimited,
    RouteChanged,
    VideoModerated,
    VideoSucceeded,
)
from .cdp import BrowserError, CdpError, CdpSession, CdpTimeout, NoMatchingTab, discover, log
from .cdp import Disconnected as DisconnectedError
from .observer import (
    BINDING_NAME,
    GENERATION_PATH,
    OBSERVER_FLAG,
    SignalGate,
    as_list,
    classify_toast,
    merge_selectors,
    observer_source,
)
from .signals import AttachInfo, Attached, Disconnected, LinkLog, SignalStats, TabChanged, TabIdentity
from .stream import GenerationTracker, JsonObjectStream

_POST_RE = re.compile(r"/imagine/post/([A-Za-z0-9-]+)")
_MEDIA_RE = re.compile(r"imagine-public/images/([A-Za-z0-9_-]+)")
TITLE_SEP = " — "
CONFIRM_TIMEOUT = 2.0
MAX_KEYS = 2000


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


def _norm_text(s: str) -> str:
    s = s.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    return s[:-1] if s.endswith("\n") else s


# ----------------------------------------------------------------------------- page functions
# Each is a JS function expression called with JSON arguments; none changes the page
# except _JS_PREPARE_EDITOR (focus + selection), _JS_SET_VALUE (fallback write),
# _JS_CLICK (fallback click) and _JS_TITLE.

_JS_HELPERS = r"""
function __first(sels) {
  for (var i = 0; i < sels.length; i++) {
    try { var el = document.querySelector(sels[i]); if (el) return el; } catch (e) {}
  }
  return null;
}
function __isText(el) { return el.tagName === "TEXTAREA" || el.tagName === "INPUT"; }
function __read(el) {
  if (__isText(el)) return el.value;
  var t = (el.innerText || "").replace(/\u00a0/g, " ");
  return t;
}
function __selectAll(el) {
  if (__isText(el)) { el.select(); return; }
  var r = document.createRange();
  r.selectNodeContents(el);
  var s = window.getSelection();
  s.removeAllRanges();
  s.addRange(r);
}
"""

_JS_PREPARE_EDITOR = r"""(function (sels) {
  %s
  var el = __first(sels);
  if (!el) return { found: false };
  try { el.scrollIntoView({ block: "center", inline: "nearest" }); } catch (e) {}
  el.focus();
  __selectAll(el);
  return { found: true, kind: __isText(el) ? "textarea" : "editable",
           focused: document.activeElement === el || el.contains(document.activeElement) };
})""" % _JS_HELPERS

_JS_READ_EDITOR = r"""(function (sels) {
  %s
  var el = __first(sels);
  if (!el) return null;
  return __read(el);
})""" % _JS_HELPERS

# Fallback write: the native value setter + a bubbling input event (textarea), or
# execCommand("insertText") on a full selection (contenteditable).
_JS_SET_VALUE = r"""(function (sels, text) {
  %s
  var el = __first(sels);
  if (!el) return false;
  el.focus();
  if (__isText(el)) {
    var proto = el.tagName === "TEXTAREA" ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
    Object.getOwnPropertyDescriptor(proto, "value").set.call(el, text);
    el.dispatchEvent(new Event("input", { bubbles: true }));
  } else {
    __selectAll(el);
    if (text) document.execCommand("insertText", false, text); else document.execCommand("delete");
  }
  return true;
})""" % _JS_HELPERS

_JS_DELETE_SELECTION = "document.execCommand('delete')"

_JS_FIND_BUTTON = r"""(function (sels) {
  %s
  var el = __first(sels);
  if (!el) return { found: false };
  try { el.scrollIntoView({ block: "center", inline: "center" }); } catch (e) {}
  var r = el.getBoundingClientRect();
  var x = r.left + r.width / 2, y = r.top + r.height / 2;
  var hit = document.elementFromPoint(x, y);
  return { found: true, x: x, y: y, w: r.width, h: r.height,
           disabled: !!(el.disabled || el.getAttribute("aria-disabled") === "true"),
           label: String(el.getAttribute("aria-label") || el.textContent || "").slice(0, 80),
           hit: !!(hit && (hit === el || el.contains(hit))) };
})""" % _JS_HELPERS

_JS_CLICK = r"""(function (sels) {
  %s
  var el = __first(sels);
  if (!el) return false;
  el.click();
  return true;
})""" % _JS_HELPERS

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

_JS_SNAPSHOT = "(window.%s && window.%s.snapshot) ? window.%s.snapshot() : null" % ((OBSERVER_FLAG,) * 3)
_JS_STOP_OBSERVER = "(window.%s && window.%s.stop) ? (window.%s.stop(), true) : false" % ((OBSERVER_FLAG,) * 3)


_JS_WAIT_FOR = """(sels, ms) => new Promise((done) => {
  const find = () => sels.some((s) => { try { return !!document.querySelector(s); } catch (e) { return false; } });
  if (find()) return done(true);
  const root = document.documentElement || document;
  const obs = new MutationObserver(() => { if (find()) { obs.disconnect(); done(true); } });
  obs.observe(root, {childList: true, subtree: true});
  setTimeout(() => { obs.disconnect(); done(find()); }, ms);
})"""


def _logged(fn, *args) -> None:
    try:
        fn(*args)
    except Exception:
        log.debug("link follow-up %s failed", getattr(fn, "__name__", fn), exc_info=True)


def _js_call(fn: str, *args) -> str:
    return f"({fn})({', '.join(json.dumps(a) for a in args)})"


class _GenStream:
    """One generation response being read live."""

    def __init__(self, request_id: str, attempt: int | None):
        self.request_id = request_id
        self.attempt = attempt
        self.parser = JsonObjectStream()
        self.tracker = GenerationTracker()
        self.status: int | None = None
        self.streaming = False


class BrowserLink:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 9222,
        tab_match: str = "grok.com/imagine",
        emit: Callable[[object], None],
        clock: Callable[[], float] = time.time,
        selectors: dict | None = None,
        call_timeout: float = 5.0,
        confirm_timeout: float = CONFIRM_TIMEOUT,
    ):
        self.host, self.port, self.tab_match = host, port, tab_match
        self._chosen_target: str | None = None
        self._emit_fn = emit
        self._clock = clock
        self.selectors = merge_selectors(selectors)
        self.call_timeout = call_timeout
        self.confirm_timeout = confirm_timeout
        self._source = observer_source(self.selectors)
        self._session: CdpSession | None = None
        self._state = threading.RLock()
        self._emit_lock = threading.RLock()
        self.gate = SignalGate()
        self._last_stats_at = 0.0
        self._last_dropped = 0
        self.info: AttachInfo | None = None
        self._main_frame: str | None = None
        self._script_id: str | None = None
        self._ready_for_install = False
        # attempts
        self._attempt: int | None = None
        self._hold_attempt: int | None = None
        self._held: list[object] = []
        self._click_event = threading.Event()
        self._gen_requests = 0
        self._progress_max: dict[int, float] = {}
        # network
        self._streams: dict[str, _GenStream] = {}
        self._video_attempt: dict[str, int] = {}
        # dom de-dup
        self._toast_keys: OrderedDict[str, int | None] = OrderedDict()
        self._known_srcs: set[str] = set()
        self._store_seen: OrderedDict[str, None] = OrderedDict()
        # Follow-up CDP calls (identity after a route change, the whole-body cross-check) run
        # here, not on pychrome's single event thread, where they would hold up the stream.
        self._slow = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grok-tui-link")
        self._last_post_id: str | None = None
        self._last_path: str | None = None

    # ------------------------------------------------------------------ emit

    def _emit(self, event: object) -> None:
        try:
            self._emit_fn(event)
        except Exception:
            log.error("browser link: emit failed", exc_info=True)

    def _log(self, level: str, message: str) -> None:
        getattr(log, {"WARN": "warning"}.get(level, level.lower()), log.info)(message)
        self._emit(LinkLog(level, message))

    def _emit_attempt(self, event) -> None:
        """Emit an engine event; events of a click still being confirmed wait for its ClickSent."""
        with self._emit_lock:
            if self._hold_attempt is not None and getattr(event, "attempt", None) == self._hold_attempt:
                self._held.append(event)
                return
            self._emit(event)

    def _release(self, first_event) -> None:
        with self._emit_lock:
            self._emit(first_event)
            held, self._held = self._held, []
            self._hold_attempt = None
            for ev in held:
                self._emit(ev)

    # ------------------------------------------------------------------ session plumbing

    @property
    def attached(self) -> bool:
        s = self._session
        return s is not None and s.alive

    @property
    def current_attempt(self) -> int | None:
        return self._attempt

    def _require(self) -> CdpSession:
        s = self._session
        if s is None:
            raise DisconnectedError("not attached")
        if not s.alive:
            raise DisconnectedError(s.disconnect_reason or "not attached")
        return s

    def _call(self, method: str, timeout: float | None = None, **params) -> dict:
        return self._require().call(method, timeout=timeout or self.call_timeout, **params)

    def _eval(self, expression: str, timeout: float | None = None, context_id: int | None = None):
        params = {"expression": expression, "returnByValue": True, "awaitPromise": False}
        if context_id is not None:
            params["contextId"] = context_id
        res = self._call("Runtime.evaluate", timeout=timeout, **params)
        if res.get("exceptionDetails"):
            det = res["exceptionDetails"]
            text = det.get("text") if isinstance(det, dict) else None
            exc = det.get("exception", {}) if isinstance(det, dict) else {}
            desc = exc.get("description") if isinstance(exc, dict) else None
            raise CdpError("Runtime.evaluate", str(desc or text or "script error").splitlines()[0][:200])
        r = res.get("result")
        return r.get("value") if isinstance(r, dict) else None

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
        old, self._session = self._session, None
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
        self._ready_for_install = False
        self._main_frame = None
        self._script_id = None
        self._last_path = None
        self._session = session
        try:
            self._register(session)
            for domain in ("Inspector", "Page", "Runtime"):
                session.call(f"{domain}.enable", timeout=self.call_timeout)
            session.call("Network.enable", timeout=self.call_timeout, maxPostDataSize=0)
            tree = session.call("Page.getFrameTree", timeout=self.call_timeout)
            frame = (tree.get("frameTree") or {}).get("frame") or {}
            self._main_frame = frame.get("id")
            session.call("Runtime.addBinding", timeout=self.call_timeout, name=BINDING_NAME)
            res = session.call("Page.addScriptToEvaluateOnNewDocument", timeout=self.call_timeout, source=self._source)
            self._script_id = res.get("identifier")
            ident = self.identity()
            if not ident.url.startswith(("http://", "https://")):
                # still loading: the target list already knows where the tab is going
                url = str(target.get("url", ""))
                ident = dataclasses.replace(ident, url=url, post_id=post_id_from_url(url))
            with self._state:
                self._last_post_id = ident.post_id
                self._last_path = urlsplit(ident.url).path
            self._ready_for_install = True
            self._install()
        except BaseException:
            self._session = None
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
            self._log("WARN", f"{len(matches)} tabs match {self.tab_match!r}; using the first: {ident.url}")
        self._emit(Attached(self.info))
        return self.info

    def close(self) -> None:
        """Remove what we installed (observer, binding, title prefix) and drop the connection."""
        s, self._session = self._session, None
        if s is None:
            return
        steps = [
            ("Runtime.evaluate", {"expression": _js_call(_JS_TITLE, ""), "returnByValue": True}),
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
        s.close()

    def _install(self, context_id: int | None = None) -> None:
        if not self._ready_for_install:
            return
        try:
            self._eval(self._source, context_id=context_id)
        except BrowserError as exc:
            log.debug("observer install failed: %s", exc)

    # ------------------------------------------------------------------ event registration

    def _register(self, s: CdpSession) -> None:
        s.on("Network.requestWillBeSent", self._on_request)
        s.on("Network.responseReceived", self._on_response)
        s.on("Network.dataReceived", self._on_data)
        s.on("Network.loadingFinished", self._on_finished)
        s.on("Network.loadingFailed", self._on_failed)
        s.on("Runtime.bindingCalled", self._on_binding)
        s.on("Runtime.executionContextCreated", self._on_context_created)
        s.on("Runtime.executionContextsCleared", self._on_contexts_cleared)
        s.on("Page.frameNavigated", self._on_frame_navigated)
        s.on("Page.navigatedWithinDocument", self._on_within_document)
        s.on("Inspector.detached", lambda p: s.mark_disconnected(f"DevTools detached ({p.get('reason', '?')})"))
        s.on("Inspector.targetCrashed", lambda p: s.mark_disconnected("the tab crashed"))
        s.on_disconnect(lambda reason: self._on_disconnect(s, reason))

    def _on_disconnect(self, s: CdpSession, reason: str) -> None:
        self._click_event.set()  # wake a waiting click; it will see the session is gone
        with self._state:
            self._streams.clear()
        self._log("WARN", f"browser connection lost: {reason}")
        self._emit(Disconnected(reason))

    # ------------------------------------------------------------------ network

    @staticmethod
    def _is_generation(url: str) -> bool:
        try:
            return urlsplit(url).path.rstrip("/") == GENERATION_PATH
        except ValueError:
            return False

    def _on_request(self, p: dict) -> None:
        req = p.get("request") or {}
        if not isinstance(req, dict) or req.get("method") != "POST" or not self._is_generation(str(req.get("url", ""))):
            return
        rid = p.get("requestId")
        if not isinstance(rid, str):
            return
        with self._state:
            attempt = self._attempt
            if rid not in self._streams:
                self._streams[rid] = _GenStream(rid, attempt)
                if len(self._streams) > 32:  # forget the oldest abandoned requests
                    self._streams.pop(next(iter(self._streams)))
            self._gen_requests += 1
        self._click_event.set()
        log.debug("generation request %s -> attempt %s", rid, attempt)

    def _on_response(self, p: dict) -> None:
        rid = p.get("requestId")
        with self._state:
            st = self._streams.get(rid)
        if st is None:
            return
        resp = p.get("response") or {}
        status = resp.get("status") if isinstance(resp, dict) else None
        st.status = int(status) if isinstance(status, (int, float)) else None
        if st.status == 429:
            if st.attempt is not None:
                self._emit_attempt(RateLimited(st.attempt, "network", "HTTP 429 on the generation request"))
            return
        if st.status is not None and st.status >= 400:
            self._log("WARN", f"generation request answered HTTP {st.status} (attempt {st.attempt})")
            return
        try:
            res = self._call("Network.streamResourceContent", requestId=rid)
            st.streaming = True
            buffered = res.get("bufferedData")
            if isinstance(buffered, str) and buffered:
                self._feed(st, base64.b64decode(buffered))
        except BrowserError as exc:
            log.debug("streamResourceContent failed (%s); will read the body at the end", exc)

    def _on_data(self, p: dict) -> None:
        data = p.get("data")
        if not data:
            return
        with self._state:
            st = self._streams.get(p.get("requestId"))
        if st is None:
            return
        try:
            raw = base64.b64decode(data)
        except (ValueError, TypeError):
            return
        self._feed(st, raw)

    def _on_finished(self, p: dict) -> None:
        rid = p.get("requestId")
        with self._state:
            st = self._streams.pop(rid, None)
        if st is None or (st.status is not None and st.status >= 400):
            return
        self._later(self._cross_check, rid, st)

    def _later(self, fn, *args) -> None:
        try:
            self._slow.submit(_logged, fn, *args)
        except RuntimeError:  # shut down
            pass

    def _cross_check(self, rid: str, st: "_GenStream") -> None:
        # Cross-check with the whole body: catches anything the live feed missed (no duplicates:
        # the tracker counts each videoId once).
        try:
            res = self._call("Network.getResponseBody", requestId=rid)
        except BrowserError as exc:
            log.debug("getResponseBody failed: %s", exc)
            return
        body = res.get("body")
        if not isinstance(body, str):
            return
        raw = base64.b64decode(body) if res.get("base64Encoded") else body.encode("utf-8")
        parser = JsonObjectStream()
        self._handle_updates(st, st.tracker.feed_all(parser.feed(raw)))

    def _on_failed(self, p: dict) -> None:
        with self._state:
            st = self._streams.pop(p.get("requestId"), None)
        if st is not None and not p.get("canceled"):
            self._log("WARN", f"generation request failed: {str(p.get('errorText', '?'))[:120]} (attempt {st.attempt})")

    def _feed(self, st: _GenStream, raw: bytes) -> None:
        with self._state:
            updates = st.tracker.feed_all(st.parser.feed(raw))
        self._handle_updates(st, updates)

    def _handle_updates(self, st: _GenStream, updates) -> None:
        for u in updates:
            with self._state:
                attempt = self._video_attempt.setdefault(u.video_id, st.attempt) if st.attempt is not None else None
                if len(self._video_attempt) > MAX_KEYS:
                    self._video_attempt.pop(next(iter(self._video_attempt)))
            if attempt is None:
                continue
            if u.kind == "progress" and u.percent is not None:
                self._progress(attempt, u.percent, "network")
            elif u.kind == "moderated":
                self._emit_attempt(VideoModerated(attempt, u.percent, u.video_id, "network"))
            elif u.kind == "completed":
                self._emit_attempt(VideoSucceeded(attempt, u.video_id, "network"))

    def _progress(self, attempt: int, percent: float, source: str) -> None:
        with self._state:
            if percent <= self._progress_max.get(attempt, -1.0):
                return
            self._progress_max[attempt] = percent
            if len(self._progress_max) > 100:
                self._progress_max.pop(min(self._progress_max))
        self._emit_attempt(AttemptProgress(percent, attempt, source))

    # ------------------------------------------------------------------ DOM signals

    def _on_binding(self, p: dict) -> None:
        if p.get("name") != BINDING_NAME:
            return
        signals = self.gate.admit(p.get("payload"))
        for sig in signals:
            try:
                self._on_signal(sig)
            except BrowserError as exc:
                log.debug("signal handling failed: %s", exc)
        self._maybe_stats()

    def _maybe_stats(self) -> None:
        g = self.gate
        now = time.monotonic()
        if g.dropped != self._last_dropped and now - self._last_stats_at >= 1.0:
            self._last_dropped = g.dropped
            self._last_stats_at = now
            self._emit(SignalStats(received=g.received, accepted=g.accepted, dropped=g.dropped))

    def _on_signal(self, sig: dict) -> None:
        kind = sig["kind"]
        if kind == "toast":
            self._on_toast(sig["key"], sig["text"])
        elif kind == "progress":
            attempt = self._attempt
            if attempt is not None:
                self._progress(attempt, sig["percent"], "dom")
        elif kind == "video":
            with self._state:
                src = sig["src"]
                if src in self._known_srcs:
                    return
                self._known_srcs.add(src)
                attempt = self._attempt
            if attempt is not None:
                self._emit_attempt(VideoSucceeded(attempt, None, "dom"))
        elif kind == "mediaStore":
            self._on_store(sig["entries"])
        elif kind == "route":
            self._later(functools.partial(self._route, sig["path"], from_page=True))
        elif kind == "ready":
            log.debug("observer ready in document %s", sig["docId"])

    def _on_toast(self, key: str, text: str) -> None:
        with self._state:
            if key in self._toast_keys:
                return
            attempt = self._attempt
            self._toast_keys[key] = attempt
            if len(self._toast_keys) > MAX_KEYS:
                self._toast_keys.popitem(last=False)
        what = classify_toast(text)
        if attempt is None:
            if what:
                log.debug("toast before any click ignored: %s", text[:80])
            return
        if what == "moderated":
            self._emit_attempt(VideoModerated(attempt, None, None, "dom"))
        elif what == "rate":
            self._emit_attempt(RateLimited(attempt, "dom", text[:200]))
        else:
            self._log("INFO", f"page notice: {text[:200]}")

    @staticmethod
    def _store_key(e: dict) -> str | None:
        moderated = e.get("moderated") is True
        if not moderated and not e.get("mediaUrl"):
            return None  # not finished
        vid = e.get("videoId")
        if vid:
            return "v:" + vid
        return "e:" + json.dumps(e, sort_keys=True)

    def _on_store(self, entries: list[dict], *, silent: bool = False) -> None:
        for e in entries:
            key = self._store_key(e)
            if key is None:
                continue
            with self._state:
                if key in self._store_seen:
                    continue
                self._store_seen[key] = None
                if len(self._store_seen) > MAX_KEYS:
                    self._store_seen.popitem(last=False)
                vid = e.get("videoId")
                attempt = self._video_attempt.get(vid, self._attempt) if vid else self._attempt
            if silent or attempt is None:
                continue
            if e.get("moderated") is True:
                self._emit_attempt(VideoModerated(attempt, e.get("progress"), vid, "store"))
            else:
                self._emit_attempt(VideoSucceeded(attempt, vid, "store"))

    # ------------------------------------------------------------------ routes and contexts

    def _route(self, url_or_path: str, *, from_page: bool = False) -> None:
        path = urlsplit(url_or_path).path if "://" in url_or_path else url_or_path
        with self._state:
            if path == self._last_path:
                return
            self._last_path = path
        post_id = post_id_from_url(path)
        try:
            ident = self.identity(timeout=1.0)
        except BrowserError:
            ident = None
        media_id = ident.media_id if ident else None
        with self._state:
            changed = post_id != self._last_post_id
            self._last_post_id = post_id
        if ident is not None:
            self._emit(TabChanged(ident))
        if changed:
            self._emit(RouteChanged(post_id, media_id))

    def _on_within_document(self, p: dict) -> None:
        if self._main_frame and p.get("frameId") != self._main_frame:
            return
        url = p.get("url")
        if isinstance(url, str):
            self._later(self._route, url)

    def _on_frame_navigated(self, p: dict) -> None:
        frame = p.get("frame") or {}
        if not isinstance(frame, dict) or frame.get("parentId"):
            return
        if frame.get("id"):
            self._main_frame = frame["id"]
        url = frame.get("url")
        if isinstance(url, str):
            self._later(self._route, url)
        self._install()

    def _on_contexts_cleared(self, p: dict) -> None:
        # The injected observer is gone with its document; the new document gets it from
        # addScriptToEvaluateOnNewDocument, and _on_context_created re-installs it to be sure.
        log.debug("execution contexts cleared")

    def _on_context_created(self, p: dict) -> None:
        ctx = p.get("context") or {}
        aux = ctx.get("auxData") or {}
        if not isinstance(aux, dict) or not aux.get("isDefault"):
            return
        if self._main_frame and aux.get("frameId") != self._main_frame:
            return
        cid = ctx.get("id")
        self._install(cid if isinstance(cid, int) else None)

    # ------------------------------------------------------------------ page reads

    def identity(self, timeout: float | None = None) -> TabIdentity:
        """URL, title (without our prefix), post id and source image id of the attached tab."""
        v = self._eval(
            _js_call(_JS_IDENTITY, as_list(self.selectors.get("sourceImage")), str(self.selectors.get("preferredVideo"))),
            timeout=timeout,
        )
        if not isinstance(v, dict):
            raise CdpError("Runtime.evaluate", "no identity")
        url = v.get("url") if isinstance(v.get("url"), str) else ""
        title = v.get("title") if isinstance(v.get("title"), str) else ""
        src = v.get("mediaSrc") if isinstance(v.get("mediaSrc"), str) else None
        s = self._session
        return TabIdentity(
            url=url[:4096],
            title=title[:500],
            post_id=post_id_from_url(url),
            media_id=media_id_from_src(src),
            target_id=s.target_id if s else None,
        )

    def capture_prompt(self) -> str:
        """The editor's current text ("" if there is no editor)."""
        v = self._eval(_js_call(_JS_READ_EDITOR, as_list(self.selectors.get("prompt"))))
        return _norm_text(v) if isinstance(v, str) else ""

    def set_title(self, text: str) -> None:
        """Prefix the tab's title with `text` ("" restores the page's own title)."""
        self._eval(_js_call(_JS_TITLE, str(text)[:200]))

    # ------------------------------------------------------------------ click

    def execute_click(self, cmd: ClickMakeVideo) -> None:
        """Write cmd.prompt, click the generate button, confirm by the generation request.

        Blocking (call it from a worker thread). Emits ClickSent or ClickFailed; never raises
        for browser trouble.
        """
        attempt = cmd.attempt
        try:
            detail = self._execute_click(cmd)
        except BrowserError as exc:
            self._log("WARN", f"attempt {attempt}: click failed: {exc}")
            self._release(ClickFailed(attempt, str(exc)))
            return
        except Exception as exc:  # a bug must not kill the worker silently
            log.error("execute_click failed", exc_info=True)
            self._release(ClickFailed(attempt, f"internal error: {exc.__class__.__name__}"))
            return
        if isinstance(detail, ClickFailed):
            self._log("WARN", f"attempt {attempt}: {detail.reason}")
            self._release(detail)
        else:
            self._release(ClickSent(attempt, detail))

    def _snapshot_page(self) -> None:
        snap = self._eval(_JS_SNAPSHOT)
        if snap is None:
            self._install()
            snap = self._eval(_JS_SNAPSHOT)
        if not isinstance(snap, dict):
            return
        with self._state:
            for src in snap.get("videos") or []:
                if isinstance(src, str):
                    self._known_srcs.add(src)
            for key in snap.get("toasts") or []:
                if isinstance(key, str) and key not in self._toast_keys:
                    self._toast_keys[key] = self._attempt
        entries = snap.get("store")
        if isinstance(entries, list):
            from .observer import validate_signal

            clean = validate_signal({"kind": "mediaStore", "entries": entries[:200]})
            if clean:
                self._on_store(clean["entries"], silent=True)

    def _execute_click(self, cmd: ClickMakeVideo):
        attempt = cmd.attempt
        self._require()
        # 1. What is on the page before this click belongs to earlier attempts.
        self._snapshot_page()
        with self._emit_lock:
            self._hold_attempt = attempt
            self._held = []
        with self._state:
            self._attempt = attempt
            self._progress_max.pop(attempt, None)
        # 2. Same source image?
        try:
            ident = self.identity()
            if cmd.media_id and ident.media_id and ident.media_id != cmd.media_id.lower():
                self._log(
                    "WARN",
                    f"attempt {attempt}: the page shows image {ident.media_id[:8]}…, the session's is {cmd.media_id[:8]}…",
                )
        except BrowserError as exc:
            log.debug("identity before click failed: %s", exc)
        # 3. Write the prompt so it sticks.
        prompt_sels = as_list(self.selectors.get("prompt"))
        self._wait_for_editor(prompt_sels)
        prep = self._eval(_js_call(_JS_PREPARE_EDITOR, prompt_sels))
        if not isinstance(prep, dict) or not prep.get("found"):
            return ClickFailed(attempt, "no prompt editor on the page")
        if cmd.prompt:
            self._call("Input.insertText", text=cmd.prompt)
        else:
            self._eval(_JS_DELETE_SELECTION)
        want = _norm_text(cmd.prompt)
        got = self.capture_prompt()
        how = "typed"
        if got != want:
            log.debug("prompt did not stick after insertText; trying the fallback writer")
            self._eval(_js_call(_JS_SET_VALUE, prompt_sels, cmd.prompt))
            got = self.capture_prompt()
            how = "set"
            if got != want:
                return ClickFailed(
                    attempt, f"the prompt did not stick (page shows {len(got)} chars, wanted {len(want)})"
                )
        # 4. Find the button (Redo first, then Make video).
        btn_sels = as_list(self.selectors.get("generate"))
        btn = self._eval(_js_call(_JS_FIND_BUTTON, btn_sels))
        deadline = time.monotonic() + 1.5
        while isinstance(btn, dict) and btn.get("found") and btn.get("disabled") and time.monotonic() < deadline:
            time.sleep(0.1)
            btn = self._eval(_js_call(_JS_FIND_BUTTON, btn_sels))
        if not isinstance(btn, dict) or not btn.get("found"):
            return ClickFailed(attempt, "no generate button (Redo / Make video) on the page")
        if btn.get("disabled"):
            return ClickFailed(attempt, "the generate button is disabled")
        label = str(btn.get("label", ""))[:40]
        x, y = btn.get("x"), btn.get("y")
        if not all(isinstance(v, (int, float)) for v in (x, y)) or btn.get("w", 0) <= 0:
            return ClickFailed(attempt, "the generate button has no size on screen")
        if not btn.get("hit"):
            log.debug("generate button centre is covered by another element")
        # 5. A real click, confirmed by the generation request.
        with self._state:
            before = self._gen_requests
        self._click_event.clear()
        if self._eval("document.visibilityState") == "hidden":
            # A background tab renders no frames, so Chrome holds mouse events until it is shown
            # (and would then click late, maybe twice). Click through the DOM instead.
            self._log("INFO", f"attempt {attempt}: the tab is in the background; clicking {label!r} through the page")
            self._eval(_js_call(_JS_CLICK, btn_sels))
            if self._wait_request(before):
                return f"prompt {how} and verified ({len(want)} chars), {label!r} clicked (background tab)"
            self._require()
            return ClickFailed(attempt, "no generation request followed the click (background tab)")
        for kind, extra in (("mouseMoved", {}), ("mousePressed", {"button": "left", "clickCount": 1, "buttons": 1}),
                            ("mouseReleased", {"button": "left", "clickCount": 1, "buttons": 0})):
            self._call("Input.dispatchMouseEvent", type=kind, x=float(x), y=float(y), **extra)
        if self._wait_request(before):
            return f"prompt {how} and verified ({len(want)} chars), {label!r} clicked"
        self._require()
        self._log("WARN", f"attempt {attempt}: no generation request {self.confirm_timeout:g} s after the click; retrying with el.click()")
        self._eval(_js_call(_JS_CLICK, btn_sels))
        if self._wait_request(before):
            return f"prompt {how} and verified ({len(want)} chars), {label!r} clicked (fallback el.click)"
        self._require()
        return ClickFailed(attempt, "no generation request followed the click")

    def _wait_for_editor(self, selectors: list[str], timeout: float = 5.0) -> bool:
        """Wait (page-side, by MutationObserver) for the editor while the page loads or re-renders."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                res = self._call(
                    "Runtime.evaluate",
                    timeout=left + 1.0,
                    expression=_js_call(_JS_WAIT_FOR, selectors, int(left * 1000)),
                    awaitPromise=True,
                    returnByValue=True,
                )
                return bool((res.get("result") or {}).get("value"))
            except CdpError:  # the context went away (navigation): try again in the new one
                time.sleep(0.05)

    def _wait_request(self, before: int) -> bool:
        deadline = time.monotonic() + self.confirm_timeout
        while True:
            with self._state:
                if self._gen_requests > before:
                    return True
            left = deadline - time.monotonic()
            if left <= 0 or (self._session is not None and not self._session.alive):
                return False
            self._click_event.wait(min(left, 0.25))
            self._click_event.clear()


__all__ = [
    "BrowserLink",
    "post_id_from_url",
    "media_id_from_src",
    "BrowserError",
    "CdpTimeout",
]
