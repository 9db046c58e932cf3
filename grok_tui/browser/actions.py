"""Carries out ClickMakeVideo: writes the prompt so it sticks, finds and clicks the generate button, confirms by the request.

The only page changes are the editor's text and selection, and the click; the
prompt is written exactly as given. `open_post` (batches only) sends the attached tab
to another post on its own origin and waits for the composer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..engine.events import ClickFailed, ClickMakeVideo, ClickSent
from .attempts import AttemptBoard
from .cdp import BrowserError, CdpError, CdpTimeout, log
from .dom import DomSignals
from .network import GenerationWatch
from .observer import as_list
from .page import Page, js_call, post_id_from_url

CONFIRM_TIMEOUT = 2.0


def origin_of(url: str) -> str | None:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else None


@dataclass(frozen=True)
class OpenedPost:
    """What the tab shows after open_post: its URL, post id, source image id, and whether the composer is there."""

    url: str
    post_id: str | None
    media_id: str | None
    composer: bool


def _norm_text(s: str) -> str:
    s = s.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    return s[:-1] if s.endswith("\n") else s


# Each is a JS function expression called with JSON arguments; none changes the page
# except _JS_PREPARE_EDITOR (focus + selection), _JS_SET_VALUE (fallback write) and
# _JS_CLICK (fallback click).

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
  // A rich editor's text the way ProseMirror / tiptap serialise it: one line per paragraph
  // (block) or hard break, joined by "\n". innerText would add a blank line between
  // paragraphs, so a multi-line prompt read back longer than it was written.
  var out = [], cur = null;
  function flush() { if (cur !== null) out.push(cur); cur = null; }
  function walk(n) {
    if (n.nodeType === 3) {
      var parts = n.data.split("\n");
      for (var i = 0; i < parts.length; i++) { if (i) flush(); cur = (cur || "") + parts[i]; }
      return;
    }
    if (n.nodeType !== 1) return;
    if (n.tagName === "BR") {
      // a trailing <br> only keeps an empty block open; any other is a line break
      if (n.nextSibling || n.parentNode === el) { cur = cur || ""; flush(); } else cur = cur || "";
      return;
    }
    var block = /^(P|DIV|LI|H[1-6]|PRE|BLOCKQUOTE)$/.test(n.tagName);
    if (block) flush();
    for (var c = n.firstChild; c; c = c.nextSibling) walk(c);
    if (block) { cur = cur || ""; flush(); }
  }
  for (var c = el.firstChild; c; c = c.nextSibling) walk(c);
  flush();
  return out.join("\n").replace(/\u00a0/g, " ");
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

_JS_WAIT_FOR = """(sels, ms) => new Promise((done) => {
  const find = () => sels.some((s) => { try { return !!document.querySelector(s); } catch (e) { return false; } });
  if (find()) return done(true);
  const root = document.documentElement || document;
  const obs = new MutationObserver(() => { if (find()) { obs.disconnect(); done(true); } });
  obs.observe(root, {childList: true, subtree: true});
  setTimeout(() => { obs.disconnect(); done(find()); }, ms);
})"""


class Actions:
    def __init__(
        self,
        page: Page,
        board: AttemptBoard,
        network: GenerationWatch,
        dom: DomSignals,
        confirm_timeout: float = CONFIRM_TIMEOUT,
    ):
        self.page, self.board, self.network, self.dom = page, board, network, dom
        self.confirm_timeout = confirm_timeout

    def capture_prompt(self) -> str:
        """The editor's current text ("" if there is no editor)."""
        v = self.page.eval(js_call(_JS_READ_EDITOR, as_list(self.page.selectors.get("prompt"))))
        return _norm_text(v) if isinstance(v, str) else ""

    def execute_click(self, cmd: ClickMakeVideo) -> None:
        """Write cmd.prompt, click the generate button, confirm by the generation request.

        Blocking (call it from a worker thread). Emits ClickSent or ClickFailed; never raises
        for browser trouble.
        """
        attempt = cmd.attempt
        board = self.board
        try:
            detail = self._execute_click(cmd)
        except BrowserError as exc:
            board.log("WARN", f"attempt {attempt}: click failed: {exc}")
            board.release(ClickFailed(attempt, str(exc)))
            return
        except Exception as exc:  # a bug must not kill the worker silently
            log.error("execute_click failed", exc_info=True)
            board.release(ClickFailed(attempt, f"internal error: {exc.__class__.__name__}"))
            return
        if isinstance(detail, ClickFailed):
            board.log("WARN", f"attempt {attempt}: {detail.reason}")
            board.release(detail)
        else:
            board.release(ClickSent(attempt, detail))

    def _execute_click(self, cmd: ClickMakeVideo):
        attempt = cmd.attempt
        page, board = self.page, self.board
        page.require()
        # 1. What is on the page before this click belongs to earlier attempts.
        self.dom.absorb_snapshot()
        board.begin(attempt)
        # 2. Same source image?
        try:
            ident = page.identity()
            if cmd.media_id and ident.media_id and ident.media_id != cmd.media_id.lower():
                board.log(
                    "WARN",
                    f"attempt {attempt}: the page shows image {ident.media_id[:8]}…, the session's is {cmd.media_id[:8]}…",
                )
        except BrowserError as exc:
            log.debug("identity before click failed: %s", exc)
        # 3. Write the prompt so it sticks.
        prompt_sels = as_list(page.selectors.get("prompt"))
        self._wait_for_editor(prompt_sels)
        prep = page.eval(js_call(_JS_PREPARE_EDITOR, prompt_sels))
        if not isinstance(prep, dict) or not prep.get("found"):
            return ClickFailed(attempt, "no prompt editor on the page")
        if cmd.prompt:
            page.call("Input.insertText", text=cmd.prompt)
        else:
            page.eval(_JS_DELETE_SELECTION)
        want = _norm_text(cmd.prompt)
        got = self.capture_prompt()
        how = "typed"
        if got != want:
            log.debug("prompt did not stick after insertText; trying the fallback writer")
            page.eval(js_call(_JS_SET_VALUE, prompt_sels, cmd.prompt))
            got = self.capture_prompt()
            how = "set"
            if got != want:
                return ClickFailed(
                    attempt, f"the prompt did not stick (page shows {len(got)} chars, wanted {len(want)})"
                )
        # 4. Find the button (Redo first, then Make video).
        btn_sels = as_list(page.selectors.get("generate"))
        btn = page.eval(js_call(_JS_FIND_BUTTON, btn_sels))
        deadline = time.monotonic() + 1.5
        while isinstance(btn, dict) and btn.get("found") and btn.get("disabled") and time.monotonic() < deadline:
            time.sleep(0.1)
            btn = page.eval(js_call(_JS_FIND_BUTTON, btn_sels))
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
        before = self.network.arm()
        wait = self.confirm_timeout
        if page.eval("document.visibilityState") == "hidden":
            # A background tab renders no frames, so Chrome holds mouse events until it is shown
            # (and would then click late, maybe twice). Click through the DOM instead.
            board.log("INFO", f"attempt {attempt}: the tab is in the background; clicking {label!r} through the page")
            page.eval(js_call(_JS_CLICK, btn_sels))
            if self.network.wait_request(before, wait):
                return f"prompt {how} and verified ({len(want)} chars), {label!r} clicked (background tab)"
            page.require()
            return ClickFailed(attempt, "no generation request followed the click (background tab)")
        for kind, extra in (("mouseMoved", {}), ("mousePressed", {"button": "left", "clickCount": 1, "buttons": 1}),
                            ("mouseReleased", {"button": "left", "clickCount": 1, "buttons": 0})):
            page.call("Input.dispatchMouseEvent", type=kind, x=float(x), y=float(y), **extra)
        if self.network.wait_request(before, wait):
            return f"prompt {how} and verified ({len(want)} chars), {label!r} clicked"
        page.require()
        board.log("WARN", f"attempt {attempt}: no generation request {wait:g} s after the click; retrying with el.click()")
        page.eval(js_call(_JS_CLICK, btn_sels))
        if self.network.wait_request(before, wait):
            return f"prompt {how} and verified ({len(want)} chars), {label!r} clicked (fallback el.click)"
        page.require()
        return ClickFailed(attempt, "no generation request followed the click")

    def button_cover(self) -> str | None:
        """None when the generate button is there and nothing covers its centre, else what is wrong, in words.

        The same hit test as the click's (elementFromPoint at the button's centre); nothing is clicked.
        """
        btn = self.page.eval(js_call(_JS_FIND_BUTTON, as_list(self.page.selectors.get("generate"))))
        if not isinstance(btn, dict) or not btn.get("found"):
            return "there is no generate button (Redo / Make video) on the page"
        if btn.get("hit"):
            return None
        label = str(btn.get("label") or "generate")[:40]
        return f"the {label!r} button is covered by {btn.get('cover') or 'another element'}"

    def open_post(self, url: str | None, wait_s: float, tab_origin: str | None = None) -> OpenedPost:
        """Send the attached tab to `url` (same origin only; None: stay), wait for the composer (blocking).

        Page.navigate on the attached tab only. Returns the post and source image the tab then
        shows and whether the composer (prompt box and generate button) came within `wait_s`.
        """
        page = self.page
        deadline = time.monotonic() + wait_s
        want = None
        if url is not None:
            here = origin_of(page.identity().url) or tab_origin
            if origin_of(url) != here:
                raise BrowserError(f"{url} is not on the tab's own site ({here}); the tab stays where it is")
            res = page.call("Page.navigate", timeout=max(page.call_timeout, wait_s), url=url)
            if res.get("errorText"):
                raise CdpError("Page.navigate", str(res["errorText"]))
            want = post_id_from_url(url)
        while want is not None and time.monotonic() < deadline:  # until the new document is the one we read
            try:
                if page.identity(timeout=2.0).post_id == want:
                    break
            except (CdpError, CdpTimeout):  # the document is changing, or the page is slow: read again
                pass
            time.sleep(0.05)
        composer = self._wait_for_editor(as_list(page.selectors.get("prompt")), timeout=max(0.1, deadline - time.monotonic()))
        if composer:
            left = max(0.1, deadline - time.monotonic())
            composer = self._wait_for_editor(as_list(page.selectors.get("generate")), timeout=left)
        ident = page.identity()
        return OpenedPost(ident.url, ident.post_id, ident.media_id, composer)

    def _wait_for_editor(self, selectors: list[str], timeout: float = 5.0) -> bool:
        """Wait (page-side, by MutationObserver) for the editor while the page loads or re-renders."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                res = self.page.call(
                    "Runtime.evaluate",
                    timeout=left + 1.0,
                    expression=js_call(_JS_WAIT_FOR, selectors, int(left * 1000)),
                    awaitPromise=True,
                    returnByValue=True,
                )
                return bool((res.get("result") or {}).get("value"))
            except CdpError:  # the context went away (navigation): try again in the new one
                time.sleep(0.05)
