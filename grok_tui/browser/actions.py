"""Carries out ClickMakeVideo: writes the prompt so it sticks, finds and clicks the generate button, confirms by the request.

The only page changes are the editor's text and selection, and the click; the prompt is
written exactly as given. Both happen only on the session's post (URL, site and source image
checked in the same evaluate), one click per attempt, never through an element covering the
button. `open_post` (batches only) sends the attached tab to another post on its own origin and
waits for the composer.

Prepare, then fire: while a click waits for its cooldown, `prepare_click` reads (one evaluate,
nothing written) whether the editor already holds exactly the prompt and where the enabled,
uncovered button is. At the deadline one evaluate checks that all of it still holds (the
session's post, the editor's text exactly the prompt, the same button at the same place, enabled
and not covered, the tab shown) and the move, press and release go out together (no move when the
last click left the pointer on that spot of the same document: a retry's button is where it was). If anything
changed, or the editor did not hold the prompt, the click does everything on the spot (write,
verify, find; a DEBUG line says what changed). The runner has that check sent just before the
deadline (`check_ahead`, about one round trip early), so at the deadline only the mouse events are
left; the click still begins only when the engine says. The few ms more between that check and the
press are backed on the wire: the options guard fails a generation request whose `message` does not
hold the attempt's prompt (grok_tui.browser.guard). The prompt is only ever written at the deadline:
a tab can move at any moment, and the write's own evaluate checks the page first. The engine
still decides when; this only decides how fast.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from dataclasses import dataclass

from ..engine.events import ClickFailed, ClickMakeVideo, ClickSent
from ..sanitize import page_text
from .attempts import AttemptBoard
from .cdp import BrowserError, CdpError, CdpTimeout, log
from .dom import JS_SNAPSHOT, DomSignals
from .network import GenerationWatch
from .observer import as_list
from .page import JS_WHERE_FN, Expect, Page, js_call, norm_text, origin_of, post_id_from_url, wrong_page
from .signals import ClickPaused

CONFIRM_TIMEOUT = 2.0
LATE_CONFIRM_S = 10.0  # after the first confirm window, how long (at most 5 windows) a slow page's request is awaited
COVER_WAIT_S = 3.0  # how long a covered button may take to clear (toasts do)
BUSY_PAGE_S = 60.0  # how long a page busy in its own click handler is waited for
# The fire check sent ahead of a prepared click's deadline (check_ahead): this long before it, the recent
# checks' median round trip within these bounds, so its answer is in at the deadline and only the mouse
# events are left. An answer older than AHEAD_FRESH_S when the click begins is not used (checked again).
AHEAD_MIN_S, AHEAD_MAX_S, AHEAD_DEFAULT_S = 0.001, 0.006, 0.003
AHEAD_FRESH_S = 0.03


@dataclass(frozen=True)
class OpenedPost:
    """What the tab shows after open_post: its URL, post id, source image id, and whether the composer is there."""

    url: str
    post_id: str | None
    media_id: str | None
    composer: bool


@dataclass(frozen=True)
class Prepared:
    """A click found ready during the cooldown, with nothing written: the editor already held exactly
    the prompt, the button was there, enabled and not covered, at (x, y).

    At the deadline one evaluate checks that all of it still holds and the mouse events go out;
    anything else and the click does everything itself on the spot (write, verify, find).
    """

    prompt: str
    session: int | None
    attempt: int
    epoch: int
    expect: Expect
    x: float
    y: float
    w: float
    h: float
    label: str


class _Ahead:
    """A fire check sent ahead of the deadline for `prep`: its answer (or error) once in."""

    def __init__(self, prep: Prepared, session: object, sent: float):
        self.prep, self.session, self.sent = prep, session, sent
        self.done = threading.Event()
        self.chk: object = None
        self.error: BaseException | None = None
        self.answered = 0.0

    def answer(self, result: dict | None, error: BaseException | None) -> None:
        # on the receive or event thread: keep it, nothing more
        self.answered = time.monotonic()
        if error is None and isinstance(result, dict):
            if result.get("exceptionDetails"):
                error = CdpError("Runtime.evaluate", "script error")
            else:
                r = result.get("result")
                self.chk = r.get("value") if isinstance(r, dict) else None
        self.error = error
        self.done.set()


# Each is a JS function expression called with JSON arguments; none changes the page
# except _JS_PREPARE_EDITOR (focus + selection), _JS_SET_VALUE (fallback write) and
# _JS_CLICK (the one click of a background tab, which gets no mouse events).

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
""" + JS_WHERE_FN + r"""
function __right(where, origin, media) {
  if (!where.tabOk || where.origin !== origin || !/^\/imagine\/post\/[A-Za-z0-9-]+\/?$/.test(where.path)) return false;
  var m = /imagine-public\/images\/([A-Za-z0-9_-]+)/.exec(where.mediaSrc || "");
  return !!(m && media && m[1].toLowerCase() === media);
}
function __describe(el) {
  if (!el) return "nothing";
  var d = el.tagName.toLowerCase();
  if (el.id) d += "#" + el.id;
  if (typeof el.className === "string" && el.className.trim()) d += "." + el.className.trim().split(/\s+/).slice(0, 3).join(".");
  var label = el.getAttribute("aria-label") || el.getAttribute("role") || "";
  if (label) d += " [" + label + "]";
  var t = (el.innerText || el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 60);
  if (t) d += " \"" + t + "\"";
  return d;
}
"""

# Checks where the tab is and, only on the session's page, focuses the editor and selects its text:
# one evaluate, so the write that follows goes to the page just checked.
_JS_PREPARE_EDITOR = r"""(function (sels, imgSels, videoSel, tabMatch, origin, media) {
  %s
  var where = __where(imgSels, videoSel, tabMatch);
  if (!__right(where, origin, media)) return { found: false, where: where };
  var el = __first(sels);
  if (!el) return { found: false, where: where };
  try { el.scrollIntoView({ block: "center", inline: "nearest" }); } catch (e) {}
  el.focus();
  __selectAll(el);
  return { found: true, where: where, kind: __isText(el) ? "textarea" : "editable",
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

# The fallback write of a session: the page check and the write in one evaluate (nothing runs on the
# page between them), so a tab that moved since the first write gets nothing.
_JS_SET_VALUE_ON_POST = r"""(function (sels, text, imgSels, videoSel, tabMatch, origin, media) {
  %s
  var where = __where(imgSels, videoSel, tabMatch);
  if (!__right(where, origin, media)) return { written: false, where: where };
  return { written: (%s)(sels, text), where: where };
})""" % (_JS_HELPERS, _JS_SET_VALUE)

_JS_DELETE_SELECTION = "document.execCommand('delete')"

# Where the tab is, and the button with the hit test at its centre: one evaluate right before the click.
# `anyPage`: only the hit test, wherever the tab is (a batch's look before it binds the job's post).
_JS_FIND_BUTTON = r"""(function (sels, imgSels, videoSel, tabMatch, origin, media, anyPage) {
  %s
  var where = __where(imgSels, videoSel, tabMatch);
  if (!anyPage && !__right(where, origin, media)) return { found: false, where: where, wrong: true };
  var el = __first(sels);
  if (!el) return { found: false, where: where };
  try { el.scrollIntoView({ block: "center", inline: "center" }); } catch (e) {}
  var r = el.getBoundingClientRect();
  var x = r.left + r.width / 2, y = r.top + r.height / 2;
  var hit = document.elementFromPoint(x, y);
  var ok = !!(hit && (hit === el || el.contains(hit)));
  return { found: true, where: where, x: x, y: y, w: r.width, h: r.height,
           disabled: !!(el.disabled || el.getAttribute("aria-disabled") === "true"),
           label: String(el.getAttribute("aria-label") || el.textContent || "").slice(0, 80),
           hit: ok, cover: ok ? null : __describe(hit) };
})""" % _JS_HELPERS

# At the deadline, for a prepared click: where the tab is, the editor's text, the button with the hit
# test at its centre (not scrolled: a button that moved is prepared again), whether the tab is shown,
# and the observer's snapshot (what is on the page now is no later attempt's), all in one evaluate.
_JS_FIRE_CHECK = r"""(function (promptSels, btnSels, imgSels, videoSel, tabMatch, origin, media, flag) {
  %s
  var where = __where(imgSels, videoSel, tabMatch);
  var out = { where: where, right: __right(where, origin, media), shown: document.visibilityState !== "hidden" };
  if (!out.right) return out;
  var ed = __first(promptSels);
  out.text = ed ? __read(ed) : null;
  var el = __first(btnSels);
  if (el) {
    var r = el.getBoundingClientRect();
    var x = r.left + r.width / 2, y = r.top + r.height / 2;
    var hit = document.elementFromPoint(x, y);
    var ok = !!(hit && (hit === el || el.contains(hit)));
    out.btn = { x: x, y: y, w: r.width, h: r.height, hit: ok, cover: ok ? null : __describe(hit),
                disabled: !!(el.disabled || el.getAttribute("aria-disabled") === "true"),
                label: String(el.getAttribute("aria-label") || el.textContent || "").slice(0, 80) };
  }
  out.snap = (%s)(flag);
  return out;
})""" % (_JS_HELPERS, JS_SNAPSHOT)

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


def _covered(btn: dict) -> str:
    """What covers the button's centre, in words (page text, escaped and capped)."""
    label = page_text(btn.get("label") or "generate", 40)
    return f"the {label!r} button is covered by {page_text(btn.get('cover') or 'another element', 120)}"


_MOVED = object()  # the tab left the session's page between the check and the write or click


class Actions:
    def __init__(
        self,
        page: Page,
        board: AttemptBoard,
        network: GenerationWatch,
        dom: DomSignals,
        confirm_timeout: float = CONFIRM_TIMEOUT,
        tab_wait_s: float = 30.0,
    ):
        self.page, self.board, self.network, self.dom = page, board, network, dom
        self.confirm_timeout = confirm_timeout
        self.tab_wait_s = tab_wait_s
        self.expect: Expect | None = None  # the session's page (set at attach, then by the session)
        self._epoch = 0  # abort() moves it on: a click still waiting (for its page, for a cover) gives up
        self._prepared: Prepared | None = None  # the next click, made ready during the cooldown
        self._prep_lock = threading.Lock()  # a click waits for a preparation still running, then uses it
        self._began: tuple[int | None, int] | None = None  # (session, attempt) of the last click begun
        # Where our last mouse events left the pointer: (CDP session, the observer's document id, x, y).
        self._pointer: tuple[object, str | None, float, float] | None = None
        self._ahead: _Ahead | None = None  # the prepared click's fire check, sent ahead of its deadline
        self._rtts: deque[float] = deque(maxlen=32)  # recent fire checks' round trips, s
        self.ahead_used = 0  # prepared clicks that went on a check sent ahead (for tests and the bench)
        self.ahead_fresh_s = AHEAD_FRESH_S

    def abort(self) -> None:
        """The session is over: a click still waiting for its page or for a cover to clear never happens."""
        self._epoch += 1
        self._prepared = None
        self._ahead = None
        self.page.moved.set()

    @property
    def epoch(self) -> int:
        return self._epoch

    def _aborted(self, epoch: int) -> bool:
        return self._epoch != epoch

    def _pause(self, attempt: int, message: str) -> None:
        """The attempt waits for the page (a cover, the tab elsewhere): said once, as a log line and a ClickPaused."""
        self.board.log("WARN", message)
        self.board.emit(ClickPaused(attempt, message))

    def capture_prompt(self) -> str:
        """The editor's current text ("" if there is no editor)."""
        v = self.page.eval(js_call(_JS_READ_EDITOR, as_list(self.page.selectors.get("prompt"))))
        return norm_text(v) if isinstance(v, str) else ""

    def execute_click(self, cmd: ClickMakeVideo, epoch: int | None = None) -> None:
        """Write cmd.prompt, click the generate button, confirm by the generation request.

        Blocking (call it from a worker thread). Emits ClickSent or ClickFailed; never raises
        for browser trouble. `epoch` (`self.epoch` when the click was asked for): an abort()
        since then means no write and no click.
        """
        attempt, tag = cmd.attempt, cmd.session  # the session tag goes onto every event of this attempt
        board = self.board
        try:
            detail = self._execute_click(cmd, self._epoch if epoch is None else epoch)
        except BrowserError as exc:
            board.log("WARN", f"attempt {attempt}: click failed: {exc}")
            board.release(ClickFailed(attempt, str(exc), session=tag))
            return
        except Exception as exc:  # a bug must not kill the worker silently
            log.error("execute_click failed", exc_info=True)
            board.release(ClickFailed(attempt, f"internal error: {exc.__class__.__name__}", session=tag))
            return
        if isinstance(detail, ClickFailed):
            board.log("WARN", f"attempt {attempt}: {detail.reason}")
            board.release(dataclasses.replace(detail, session=tag))
        else:
            board.release(ClickSent(attempt, detail, session=tag))

    def _execute_click(self, cmd: ClickMakeVideo, epoch: int):
        attempt = cmd.attempt
        page, board = self.page, self.board
        if self._aborted(epoch):
            return ClickFailed(attempt, "nothing was written or clicked: the session ended first")
        with self._prep_lock:  # a preparation still running is waited for; none starts for this click after this
            self._began = (cmd.session, attempt)
            prep, self._prepared = self._prepared, None
            ahead, self._ahead = self._ahead, None
        page.require()
        fired = self._fire_prepared(cmd, epoch, prep, ahead if ahead is not None and ahead.prep is prep else None) \
            if prep is not None else None
        if fired is not None:
            return fired
        # 1. What is on the page before this click belongs to earlier attempts.
        self.dom.absorb_snapshot()
        board.begin(attempt, cmd.session, cmd.prompt)
        # 2. Only on the session's page: the URL matches the tab setting, is a post on the session's
        #    origin, and the page shows the session's source image (checked again in each evaluate below).
        for _ in range(3):
            result = self._write_and_click(cmd, epoch)
            if result is not _MOVED:
                return result
            bad = self._await_right_page(attempt, epoch)
            if bad:
                return ClickFailed(attempt, f"nothing was written or clicked: {bad}")
        return ClickFailed(attempt, "nothing was clicked: the tab kept leaving the session's post")

    # ------------------------------------------------------------ prepare, then fire

    def prepare_click(self, prompt: str, session: int | None, attempt: int, epoch: int | None = None) -> bool:
        """During the cooldown: see whether the click of `attempt` can go with one check at its deadline (blocking).

        Read only: one evaluate (_JS_FIRE_CHECK) says whether the tab shows the session's post, the
        editor already holds exactly `prompt` and the generate button is there, enabled and not
        covered, and where. Nothing is written, moved or clicked here: a tab can move at any moment,
        and what is typed into the page happens only at the deadline, in the same path as an
        unprepared click (whose evaluate checks the page first). When anything is off, nothing is
        kept and the click at the deadline does all of it itself. Never once that click has begun
        (a preparation that comes late does nothing). True when the click is ready.
        """
        epoch = self._epoch if epoch is None else epoch
        with self._prep_lock:
            self._prepared = None
            began = self._began
            if self._aborted(epoch) or (began is not None and began[0] == session and began[1] >= attempt):
                return False
            page = self.page
            page.require()
            self._ahead = None
            try:
                t0 = time.monotonic()
                chk = page.eval(self._fire_check_js())
                self._rtts.append(time.monotonic() - t0)
            except (CdpError, CdpTimeout) as exc:
                log.debug("click not prepared: the page did not answer (%s)", exc)
                return False
            why = self._not_ready(chk, prompt)
            if why is not None:
                log.debug("click not prepared: %s", why)
                return False
            if self._aborted(epoch):
                return False
            btn = chk["btn"]
            self._prepared = Prepared(prompt, session, attempt, epoch, self._expect(), float(btn["x"]), float(btn["y"]),
                                      float(btn["w"]), float(btn["h"]), str(btn.get("label") or ""))
            return True

    def _fire_check_js(self) -> str:
        sels = self.page.selectors
        return js_call(_JS_FIRE_CHECK, as_list(sels.get("prompt")), as_list(sels.get("generate")),
                       *self._page_args(), self.page.flag)

    def check_lead(self) -> float:
        """How long before a prepared click's deadline check_ahead should send its check: the recent checks'
        median round trip, within AHEAD_MIN_S..AHEAD_MAX_S."""
        rtts = sorted(tuple(self._rtts))
        mid = rtts[len(rtts) // 2] if rtts else AHEAD_DEFAULT_S
        return min(AHEAD_MAX_S, max(AHEAD_MIN_S, mid))

    def check_ahead(self, session: int | None, attempt: int) -> bool:
        """Just before the deadline of the prepared click of `attempt`: send its fire check now, its answer
        not waited for (non-blocking; from the runner's loop). True when it went.

        The click itself still begins only when the engine says (execute_click); it then uses this answer
        (if it is fresh) instead of asking again, so at the deadline only the mouse events are left. The
        wider gap between the check and the press is backed by the options guard: a generation request
        whose `message` does not hold the attempt's prompt is failed before it leaves the browser.
        """
        if not self._prep_lock.acquire(blocking=False):  # a preparation is running: the click checks itself
            return False
        try:
            prep = self._prepared
            if prep is None or prep.session != session or prep.attempt != attempt or self._aborted(prep.epoch):
                return False
            s = self.page.session
            if s is None or not s.alive:
                return False
            ahead = self._ahead = _Ahead(prep, s, time.monotonic())
        finally:
            self._prep_lock.release()
        try:
            s.call_async("Runtime.evaluate", ahead.answer, expression=self._fire_check_js(), returnByValue=True,
                         awaitPromise=False)
        except BrowserError as exc:
            log.debug("fire check not sent ahead: %s", exc)
            with self._prep_lock:
                if self._ahead is ahead:
                    self._ahead = None
            return False
        return True

    def _ahead_check(self, ahead: _Ahead):
        """The answer of the check sent ahead: the check's result, or a CdpError; None when it is not there
        in time or too old to use (then the click asks again)."""
        s, give_up = ahead.session, time.monotonic() + self.page.call_timeout
        while not ahead.done.wait(0.25):
            if s is not self.page.session or not getattr(s, "alive", False) or time.monotonic() > give_up:
                return None  # no answer (in time): the click asks again (and finds the connection gone, or busy)
        if s is not self.page.session or time.monotonic() - ahead.answered > self.ahead_fresh_s:
            return None
        self._rtts.append(ahead.answered - ahead.sent)
        if ahead.error is not None:
            raise ahead.error if isinstance(ahead.error, CdpError) else CdpError("Runtime.evaluate", str(ahead.error))
        return ahead.chk

    def _fire_prepared(self, cmd: ClickMakeVideo, epoch: int, prep: Prepared, ahead: _Ahead | None = None):
        """The prepared click, if it still holds: one evaluate (sent ahead of the deadline by check_ahead, or
        now), then the mouse events. None: do it all now."""
        attempt, page = cmd.attempt, self.page
        stale = self._stale(prep, cmd, epoch)
        chk, early = None, False
        if stale is None:
            try:
                chk = self._ahead_check(ahead) if ahead is not None else None
                early = chk is not None
                if not early:
                    t0 = time.monotonic()
                    chk = page.eval(self._fire_check_js())
                    self._rtts.append(time.monotonic() - t0)
            except (CdpError, CdpTimeout) as exc:
                stale = f"the page did not answer ({exc})"
            else:
                stale = self._changed(chk, prep)
        if stale is not None:
            self.board.log("DEBUG", f"attempt {attempt}: the prepared click does not hold ({stale}); "
                                    "preparing it again: the prompt is written and checked now")
            return None
        if self._aborted(epoch):  # as in the full path: a session that ended meanwhile gets no click
            return ClickFailed(attempt, "not clicked: the session ended before the click")
        # The page is as prepared: what is on it now belongs to earlier attempts; then the click.
        self.dom.absorb(chk.get("snap"))
        self.board.begin(attempt, cmd.session, cmd.prompt)
        self.ahead_used += early
        if attempt == 1 or self.network.baseline is None:
            self.network.take_baseline()  # what exists before the session's clicks is no attempt's
        before = self.network.arm()
        label = page_text(prep.label, 40)
        doc = chk["snap"].get("docId")
        return self._press(attempt, prep.x, prep.y, before,
                           f"prompt already in the editor and verified ({len(norm_text(prep.prompt))} chars), "
                           f"{label!r} clicked", together=True, doc=doc if isinstance(doc, str) and doc else None)

    def _stale(self, prep: Prepared, cmd: ClickMakeVideo, epoch: int) -> str | None:
        """Why `prep` is not this click's (another prompt, session or page), or None."""
        if prep.prompt != cmd.prompt:
            return "the prompt is another one"
        if prep.session != cmd.session or prep.attempt != cmd.attempt or prep.epoch != epoch:
            return "it was prepared for another attempt"
        if prep.expect != self._expect():
            return "the session's page is another one"
        return None

    @staticmethod
    def _not_ready(chk: object, prompt: str) -> str | None:
        """Why the page (from _JS_FIRE_CHECK) does not allow a click of `prompt` with nothing written, or None."""
        if not isinstance(chk, dict):
            return "the page could not be read"
        if not chk.get("right"):
            return "the tab is not on the session's post"
        if not chk.get("shown"):
            return "the tab is in the background"
        if not isinstance(chk.get("snap"), dict):
            return "the page's observer is gone"
        text = chk.get("text")
        if not isinstance(text, str) or norm_text(text) != norm_text(prompt):
            return "the editor does not hold exactly the prompt"
        btn = chk.get("btn")
        if not isinstance(btn, dict):
            return "no generate button"
        if btn.get("disabled"):
            return "the generate button is disabled"
        if not btn.get("hit"):
            return _covered(btn)
        if not all(isinstance(btn.get(k), (int, float)) for k in ("x", "y", "w", "h")) or btn["w"] <= 0:
            return "the generate button has no size on screen"
        return None

    @classmethod
    def _changed(cls, chk: object, prep: Prepared) -> str | None:
        """What changed on the page since `prep` (from _JS_FIRE_CHECK), or None when the click can go."""
        why = cls._not_ready(chk, prep.prompt)
        if why is not None:
            return why
        btn = chk["btn"]
        if str(btn.get("label") or "") != prep.label:
            return "the generate button is another one"
        if max(abs(float(btn[k]) - getattr(prep, k)) for k in ("x", "y", "w", "h")) > 0.5:
            return "the generate button moved"
        return None

    def _expect(self) -> Expect:
        return self.expect or Expect("", "", None)

    def _page_args(self) -> tuple:
        e, sel = self._expect(), self.page.selectors
        return (as_list(sel.get("sourceImage")), str(sel.get("preferredVideo")), e.tab_match, e.origin,
                (e.media_id or "").lower())

    def _await_right_page(self, attempt: int, epoch: int) -> str | None:
        """None once the tab is the session's page (waiting up to tab_wait_s for it), else where it is."""
        expect = self._expect()
        deadline = time.monotonic() + self.tab_wait_s
        said = False
        while True:
            self.page.moved.clear()
            try:
                where = self.page.where(expect.tab_match, timeout=2.0)
            except (CdpError, CdpTimeout):  # the document is changing, or the page is busy: read again
                where = None
            bad = wrong_page(where, expect) if where is not None else "the tab's page does not answer (loading or busy)"
            if bad is None:
                return None
            if not said:
                said = True
                self._pause(attempt, f"attempt {attempt}: not writing or clicking: {bad}; waiting up to "
                                     f"{self.tab_wait_s:g} s for the session's post")
            left = deadline - time.monotonic()
            if left <= 0:
                return bad
            if self._aborted(epoch):
                return f"{bad}, and the session ended meanwhile"
            self.page.require()
            self.page.moved.wait(min(left, 1.0))

    def _write_prompt(self, attempt: int, prompt: str, args: tuple):
        """Write `prompt` so it sticks, read it back: "typed" / "set", _MOVED (not the session's page) or a ClickFailed.

        The evaluate that focuses the editor checks the page first.
        """
        page = self.page
        prompt_sels = as_list(page.selectors.get("prompt"))
        self._wait_for_editor(prompt_sels)
        try:
            prep = page.eval(js_call(_JS_PREPARE_EDITOR, prompt_sels, *args))
        except (CdpError, CdpTimeout):  # navigating, or busy: check the page again before anything
            return _MOVED
        if not isinstance(prep, dict) or wrong_page(prep.get("where"), self._expect()):
            return _MOVED
        if not isinstance(prep, dict) or not prep.get("found"):
            return ClickFailed(attempt, "no prompt editor on the page")
        if prompt:
            page.call("Input.insertText", text=prompt)
        else:
            page.eval(_JS_DELETE_SELECTION)
        want = norm_text(prompt)
        got = self.capture_prompt()
        if got == want:
            return "typed"
        log.debug("prompt did not stick after insertText; trying the fallback writer")
        # The tab may have moved since the check: the fallback checks the page again in its own evaluate.
        again = page.eval(js_call(_JS_SET_VALUE_ON_POST, prompt_sels, prompt, *args))
        if not isinstance(again, dict) or wrong_page(again.get("where"), self._expect()):
            return _MOVED
        if not again.get("written"):
            return ClickFailed(attempt, "no prompt editor on the page")
        got = self.capture_prompt()
        if got != want:
            return ClickFailed(attempt, f"the prompt did not stick (page shows {len(got)} chars, wanted {len(want)})")
        return "set"

    def _write_and_click(self, cmd: ClickMakeVideo, epoch: int):
        attempt = cmd.attempt
        page, board = self.page, self.board
        args = self._page_args()
        # 3. Write the prompt so it sticks.
        how = self._write_prompt(attempt, cmd.prompt, args)
        if not isinstance(how, str):
            return how
        want = norm_text(cmd.prompt)
        # 4. Find the button (Redo first, then Make video) on the session's page, enabled and not covered.
        btn_sels = as_list(page.selectors.get("generate"))
        find = js_call(_JS_FIND_BUTTON, btn_sels, *args)
        btn = page.eval(find)
        start = time.monotonic()
        limit = max(COVER_WAIT_S, self.tab_wait_s)  # a toast clears within COVER_WAIT_S; a dialog may take longer
        paused = False
        while isinstance(btn, dict) and btn.get("found"):
            waited = time.monotonic() - start
            if btn.get("disabled") and waited < 1.5:
                pass
            elif not btn.get("disabled") and not btn.get("hit") and waited < limit:
                # something covers its centre (a toast, a dialog): no click until it clears
                if waited >= COVER_WAIT_S and not paused:
                    paused = True
                    self._pause(attempt, f"attempt {attempt} paused: {_covered(btn)}; waiting up to "
                                         f"{limit:g} s for it to clear")
            else:
                break
            if self._aborted(epoch):
                return ClickFailed(attempt, f"not clicked: the session ended while {_covered(btn)}")
            time.sleep(0.1 if waited < COVER_WAIT_S else 0.25)
            btn = page.eval(find)
        if paused and isinstance(btn, dict) and btn.get("hit"):
            board.log("INFO", f"attempt {attempt}: the generate button is clear again; clicking")
        if isinstance(btn, dict) and btn.get("wrong"):
            return _MOVED
        if not isinstance(btn, dict) or not btn.get("found"):
            return ClickFailed(attempt, "no generate button (Redo / Make video) on the page")
        if btn.get("disabled"):
            return ClickFailed(attempt, "the generate button is disabled")
        label = page_text(btn.get("label", ""), 40)
        x, y = btn.get("x"), btn.get("y")
        if not all(isinstance(v, (int, float)) for v in (x, y)) or btn.get("w", 0) <= 0:
            return ClickFailed(attempt, "the generate button has no size on screen")
        if not btn.get("hit"):
            return ClickFailed(attempt, f"not clicked: {_covered(btn)} (still after {limit:g} s)")
        if self._aborted(epoch):
            return ClickFailed(attempt, "not clicked: the session ended before the click")
        # 5. One real click, confirmed by the generation request; never a second one for this attempt.
        if attempt == 1 or self.network.baseline is None:
            self.network.take_baseline()  # what exists before the session's clicks is no attempt's
        before = self.network.arm()
        wait = self.confirm_timeout
        if page.eval("document.visibilityState") == "hidden":
            # A background tab renders no frames, so Chrome holds mouse events until it is shown
            # (and would then click late, maybe twice). Click through the DOM instead (the only click).
            board.log("INFO", f"attempt {attempt}: the tab is in the background; clicking {label!r} through the page")
            page.eval(js_call(_JS_CLICK, btn_sels))
            if self._confirmed(attempt, before, wait):
                return f"prompt {how} and verified ({len(want)} chars), {label!r} clicked (background tab)"
            page.require()
            return ClickFailed(attempt, "no generation request followed the click (background tab)")
        return self._press(attempt, x, y, before, f"prompt {how} and verified ({len(want)} chars), {label!r} clicked")

    def _press(self, attempt: int, x: float, y: float, before: int, done: str, together: bool = False,
               doc: str | None = None):
        """The mouse events at (x, y) (`together`: move, press and release sent at once, one round trip,
        handled in order), then the generation request awaited: `done`, or a ClickFailed.

        No move when our last mouse events left the pointer right there on this document (`doc`, the
        observer's document id; None: unknown, so the move goes): a retry's button is where the last
        click was. Chrome hands a mouse move to the page with its next frame, and the press and release
        queue behind it: the move alone put the page's click 10-13 ms after the events went out, against
        ~3 ms for press and release (measured on the sim, headless Chromium). The press still hit-tests
        at (x, y) and the page gets its pointer-over/enter events, if the pointer had left, before it.
        """
        page = self.page
        busy = False
        session = page.session
        kinds = [("mousePressed", {"button": "left", "clickCount": 1, "buttons": 1}),
                 ("mouseReleased", {"button": "left", "clickCount": 1, "buttons": 0})]
        if not self._pointer_at(session, doc, x, y):
            kinds.insert(0, ("mouseMoved", {}))
        events = [{"type": kind, "x": float(x), "y": float(y), **extra} for kind, extra in kinds]
        self._pointer = None  # unknown while the events are on their way (a failure may have sent some)
        try:
            if together:
                page.call_many([("Input.dispatchMouseEvent", e) for e in events])
            else:
                for e in events:
                    page.call("Input.dispatchMouseEvent", **e)
        except CdpTimeout:
            busy = True  # the page is busy in its own handler: the click is delivered, its request may be late
        else:
            self._pointer = (session, doc, float(x), float(y))
        if busy:
            self.board.log("WARN", f"attempt {attempt}: the page is busy in its own click handler; waiting for it")
            self._wait_page_free()
        if self._confirmed(attempt, before, self.confirm_timeout):
            return done
        page.require()
        return ClickFailed(attempt, "no generation request followed the click")

    def _pointer_at(self, session: object, doc: str | None, x: float, y: float) -> bool:
        """Our last mouse events left the pointer at (x, y) (half a pixel) on this session's document `doc`."""
        p = self._pointer
        return (doc is not None and p is not None and p[0] is session and p[1] == doc
                and abs(p[2] - float(x)) <= 0.5 and abs(p[3] - float(y)) <= 0.5)

    def _confirmed(self, attempt: int, before: int, wait: float) -> bool:
        """The click's request came: within `wait`, or late (a slow page) within LATE_CONFIRM_S more."""
        if self.network.wait_request(before, wait):
            return True
        s = self.page.session
        if s is None or not s.alive:
            return False
        late = min(LATE_CONFIRM_S, 5 * wait)
        self.board.log("WARN", f"attempt {attempt}: no generation request {wait:g} s after the click; "
                               f"waiting {late:g} s more (never a second click)")
        return self.network.wait_request(before, late)

    def _wait_page_free(self) -> None:
        """Wait until the page runs script again (its handler has finished), at most BUSY_PAGE_S."""
        deadline = time.monotonic() + BUSY_PAGE_S
        while time.monotonic() < deadline:
            try:
                self.page.eval("1", timeout=min(5.0, max(0.5, deadline - time.monotonic())))
                return
            except CdpTimeout:
                continue

    def button_cover(self) -> str | None:
        """None when the generate button is there and nothing covers its centre, else what is wrong, in words.

        The same hit test as the click's (elementFromPoint at the button's centre); nothing is clicked.
        """
        btn = self.page.eval(js_call(_JS_FIND_BUTTON, as_list(self.page.selectors.get("generate")), *self._page_args(), True))
        if not isinstance(btn, dict) or not btn.get("found"):
            return "there is no generate button (Redo / Make video) on the page"
        if btn.get("hit"):
            return None
        return _covered(btn)

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
            if not here or origin_of(url) != here:
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

    def wait_for_post(self, timeout: float) -> bool:
        """Wait (page-side) until the tab shows a loaded http(s) page with a source image."""
        sels = as_list(self.page.selectors.get("sourceImage"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                href = self.page.eval("location.href", timeout=2.0)
            except CdpError:
                href = None
            if isinstance(href, str) and href.startswith(("http://", "https://")):
                return self._wait_for_editor(sels, max(0.1, deadline - time.monotonic()))
            time.sleep(0.1)
        return False

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
