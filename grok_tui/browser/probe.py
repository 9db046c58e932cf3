"""The page check behind `grok-tui doctor` and the UI's "page: check": one row per signal a session relies on.

Each row says found / missing / not yet and how (which selector matched, what it
shows); for a missing one it lists candidates on the page (textareas, editables,
buttons with their labels and text, live regions, storage keys) and the
`[selectors]` entries that would use them. Read-only, with one exception: the
editor write test writes a marker, reads it back and writes the user's text back
exactly. Nothing is sent, nothing is clicked, nothing is scrolled; storage values
are tested in the page and only key names come back.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from .actions import _JS_DELETE_SELECTION, _JS_HELPERS, _JS_SET_VALUE
from .cdp import BrowserError
from .dom import DomSignals
from .network import GenerationWatch
from .observer import DEFAULT_SELECTORS, GENERATION_PATH, OBSERVER_VERSION, as_list
from .page import Page, js_call

FOUND, MISSING, NOT_YET = "found", "missing", "not yet"

# (key, name, essential): the rows, in the order they are shown.
ROWS = (
    ("editor", "prompt editor", True),
    ("button", "generate button", True),
    ("progress", "progress element", False),
    ("toasts", "notifications section", False),
    ("image", "source image id", True),
    ("video", "video element", False),
    ("store", "useMediaStore key", False),
    ("observer", "MutationObserver binding", False),
    ("endpoint", "generation endpoint", False),
)
_ROW = {key: (name, essential) for key, name, essential in ROWS}


@dataclass(frozen=True)
class Candidate:
    """Something on the page that could be what a missing row looks for. Its texts come from the page."""

    kind: str  # textarea, contenteditable, input, button, live region, video, image, storage key
    selector: str  # a selector that finds it first (or a storage key's name)
    label: str = ""  # aria-label (or alt)
    text: str = ""  # visible text, placeholder, or what else tells it apart
    note: str = ""  # disabled, hidden, ...


@dataclass(frozen=True)
class Row:
    key: str
    name: str
    essential: bool
    status: str  # found | missing | not yet
    how: str
    candidates: tuple[Candidate, ...] = ()
    suggest: dict[str, list[str] | str] = field(default_factory=dict)  # [selectors] entries that would use the best candidate

    @property
    def ok(self) -> bool:
        return self.status != MISSING


@dataclass(frozen=True)
class ProbeReport:
    url: str
    title: str
    rows: tuple[Row, ...]
    unrestored: str | None = None  # the user's editor text, when it could not be written back

    def row(self, key: str) -> Row:
        return next(r for r in self.rows if r.key == key)

    @property
    def essentials_ok(self) -> bool:
        return all(r.ok for r in self.rows if r.essential)

    def suggestions(self) -> dict[str, list[str] | str]:
        out: dict[str, list[str] | str] = {}
        for r in self.rows:
            out.update(r.suggest)
        return out


# One read of everything the rows need. Never changes the page.
_JS_PROBE = r"""(function (S, storeKey, genPath, flag, binding, version) {
  function list(x) { return Array.isArray(x) ? x : (x ? [x] : []); }
  function firstMatch(sels, root) {
    var l = list(sels);
    for (var i = 0; i < l.length; i++) {
      try { var el = (root || document).querySelector(l[i]); if (el) return { el: el, sel: l[i], index: i }; } catch (e) {}
    }
    return null;
  }
  function countAll(sels, root) {
    var seen = [], l = list(sels);
    for (var i = 0; i < l.length; i++) {
      try { var f = (root || document).querySelectorAll(l[i]); for (var k = 0; k < f.length; k++) if (seen.indexOf(f[k]) < 0) seen.push(f[k]); } catch (e) {}
    }
    return seen.length;
  }
  function clip(s, n) { s = String(s == null ? "" : s).replace(/\s+/g, " ").trim(); return s.length > n ? s.slice(0, n) + "…" : s; }
  function q(v) {
    return '"' + String(v).replace(/[\\"]/g, "\\$&").replace(/[\x00-\x1f\x7f]/g, function (c) {
      return "\\" + c.charCodeAt(0).toString(16) + " ";
    }) + '"';
  }
  function unique(sel, el) { try { return document.querySelector(sel) === el; } catch (e) { return false; } }
  function classes(el) {
    var c = (typeof el.className === "string" ? el.className : "").split(/\s+/).filter(function (x) { return /^[A-Za-z_][\w-]*$/.test(x); });
    return c.slice(0, 2).map(function (x) { return "." + x; }).join("");
  }
  function path(el) {
    var parts = [];
    for (var n = el; n && n.nodeType === 1 && n !== document.documentElement && parts.length < 5; n = n.parentElement) {
      var tag = n.tagName.toLowerCase();
      if (n.id && /^[A-Za-z][\w-]*$/.test(n.id)) { parts.unshift(tag + "#" + n.id); break; }
      var i = 1;
      for (var s = n.previousElementSibling; s; s = s.previousElementSibling) if (s.tagName === n.tagName) i++;
      parts.unshift(tag + ":nth-of-type(" + i + ")");
    }
    return parts.join(" > ");
  }
  function selectorFor(el) {
    var tag = el.tagName.toLowerCase(), tries = [];
    ["aria-label", "data-testid", "name", "placeholder"].forEach(function (a) {
      var v = el.getAttribute(a);
      if (v) tries.push(tag + "[" + a + "=" + q(v) + "]");
    });
    if (el.id && /^[A-Za-z][\w-]*$/.test(el.id)) tries.push(tag + "#" + el.id);
    if (el.getAttribute("contenteditable") !== null) tries.push(tag + "[contenteditable=" + q(el.getAttribute("contenteditable")) + "]");
    var role = el.getAttribute("role"), live = el.getAttribute("aria-live");
    if (role && live) tries.push(tag + "[role=" + q(role) + "][aria-live=" + q(live) + "]");
    var cls = classes(el);
    if (cls) tries.push(tag + cls);
    for (var i = 0; i < tries.length; i++) if (unique(tries[i], el)) return tries[i];
    return path(el);
  }
  function visible(el) {
    var r = el.getBoundingClientRect();
    if (r.width <= 0 || r.height <= 0) return false;
    var cs = getComputedStyle(el);
    return cs.visibility !== "hidden" && cs.display !== "none";
  }
  function describe(el) {
    if (!el) return "nothing (off screen)";
    var tag = el.tagName.toLowerCase(), bits = [tag + (el.id ? "#" + el.id : "") + classes(el)];
    var al = el.getAttribute("aria-label"), role = el.getAttribute("role");
    if (role) bits.push("role " + q(role));
    if (al) bits.push(q(clip(al, 60)));
    var t = clip(el.textContent, 60);
    if (t && t !== al) bits.push("text " + q(t));
    return bits.join(" ");
  }
  function cand(el, kind, extra) {
    return { kind: kind, selector: selectorFor(el), label: clip(el.getAttribute("aria-label") || el.getAttribute("alt") || "", 80),
             text: clip(extra || "", 80), note: visible(el) ? "" : "hidden" };
  }
  function grab(sel, n) {
    var out = [];
    try { var f = document.querySelectorAll(sel); for (var i = 0; i < f.length && out.length < n; i++) out.push(f[i]); } catch (e) {}
    return out;
  }
  var R = {};

  // prompt editor
  var ed = firstMatch(S.prompt);
  R.editor = ed ? { selector: ed.sel, index: ed.index, of: list(S.prompt).length,
                    kind: (ed.el.tagName === "TEXTAREA" || ed.el.tagName === "INPUT") ? ed.el.tagName.toLowerCase() : "contenteditable",
                    visible: visible(ed.el) } : null;
  R.editorCands = grab('textarea, input[type="text"], input:not([type]), [contenteditable="true"], [contenteditable=""], [role="textbox"]', 40)
    .map(function (el) {
      var kind = el.tagName === "TEXTAREA" ? "textarea" : (el.tagName === "INPUT" ? "input" : "contenteditable");
      var ph = el.getAttribute("placeholder") || el.getAttribute("data-placeholder") || "";
      var c = cand(el, kind, ph ? "placeholder " + q(clip(ph, 60)) : "");
      c.score = (c.note ? 0 : 4) + (/video|prompt|imagine|describe|custom|idea/i.test(c.label + " " + ph) ? 2 : 0) + (kind === "input" ? 0 : 1);
      return c;
    });

  // generate button
  var bt = firstMatch(S.generate);
  if (bt) {
    var el = bt.el, r = el.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
    var inView = r.width > 0 && r.height > 0 && x >= 0 && y >= 0 && x < innerWidth && y < innerHeight;
    var hit = inView ? document.elementFromPoint(x, y) : null;
    R.button = { selector: bt.sel, index: bt.index, of: list(S.generate).length,
                 label: clip(el.getAttribute("aria-label") || el.textContent, 60), text: clip(el.textContent, 60),
                 disabled: !!(el.disabled || el.getAttribute("aria-disabled") === "true"),
                 size: r.width > 0 && r.height > 0, inView: inView,
                 covered: !!(inView && hit && !(hit === el || el.contains(hit))),
                 cover: (inView && hit && !(hit === el || el.contains(hit))) ? describe(hit) : null };
  } else R.button = null;
  var edEl = ed ? ed.el : null;
  R.buttonCands = grab('button, [role="button"], input[type="submit"]', 80).filter(visible).map(function (el) {
    var c = cand(el, "button", clip(el.textContent || el.value, 60));
    if (el.disabled || el.getAttribute("aria-disabled") === "true") c.note = c.note ? c.note + ", disabled" : "disabled";
    var words = c.label + " " + c.text;
    var near = 0;
    if (edEl) { for (var p = el.parentElement, d = 0; p && d < 4; p = p.parentElement, d++) if (p.contains(edEl)) { near = 4 - d; break; } }
    c.score = (/generat|make|creat|redo|again|submit|send|crear|rehacer/i.test(words) ? 8 : 0)
              + (/option|menu|close|cancel|settings|more/i.test(words) ? -3 : 0) + near;
    return c;
  });

  // progress element
  var pb = firstMatch(S.progressButton), ov = firstMatch(S.progressOverlay);
  function pct(el) { if (!el) return null; var m = /(\d+(?:\.\d+)?)\s*%/.exec(el.textContent || ""); return m ? parseFloat(m[1]) : null; }
  R.progress = { button: pb ? pb.sel : null, overlay: ov ? ov.sel : null,
                 percent: pct(pb ? (pb.el.querySelector("div, span") || pb.el) : null), overlayPercent: pct(ov ? ov.el : null) };

  // notifications section
  var tc = firstMatch(S.toastContainer);
  R.toasts = tc ? { selector: tc.sel, items: countAll(S.toastItem, tc.el) } : null;
  R.toastCands = grab('[aria-live], [role="status"], [role="alert"], [role="log"], section[aria-label]', 30).map(function (el) {
    var bits = [];
    ["role", "aria-live"].forEach(function (a) { var v = el.getAttribute(a); if (v) bits.push(a + " " + v); });
    var lst = el.querySelector("ol, ul");
    var item = lst ? "li" : (el.querySelector("li") ? "li" : ":scope > *");
    bits.push(el.children.length + (el.children.length === 1 ? " child" : " children"));
    var c = cand(el, "live region", bits.join(", "));
    c.item = item;
    c.score = (el.getAttribute("aria-live") ? 3 : 0) + (lst ? 2 : 0) + (/notif|alert|toast|message/i.test(c.label) ? 3 : 0);
    return c;
  });

  // source image
  var im = firstMatch(S.sourceImage);
  R.image = im ? { selector: im.sel } : null;
  R.imageCands = grab("img[src]", 60).map(function (el) {
    var src = String(el.getAttribute("src") || "").split(/[?#]/)[0];
    var r = el.getBoundingClientRect();
    var c = cand(el, "image", src.length > 120 ? "…" + src.slice(-119) : src);
    c.imagine = /imagine-public\/images\/[A-Za-z0-9_-]+/.test(src);
    c.score = (c.imagine ? 100000000 : 0) + Math.round(r.width * r.height);
    return c;
  });

  // video element
  var vids = countAll(S.video), anyVid = grab("video", 10);
  R.video = { selector: list(S.video).join(", "), count: vids, others: anyVid.length };
  R.videoCands = vids ? [] : anyVid.map(function (el) {
    return cand(el, "video", (el.currentSrc || el.getAttribute("src")) ? "has a source" : "no source");
  });

  // useMediaStore
  function storeInfo(raw) {
    if (raw == null) return null;
    var data = null;
    try { data = JSON.parse(raw); } catch (e) { return { parses: false }; }
    var by = data && data.state && data.state.videoByMediaId;
    if (!by || typeof by !== "object") return { parses: true, shape: false };
    var n = 0;
    Object.keys(by).forEach(function (k) { if (Array.isArray(by[k])) n += by[k].length; });
    return { parses: true, shape: true, images: Object.keys(by).length, entries: n };
  }
  var raw = null;
  try { raw = sessionStorage.getItem(storeKey); } catch (e) { raw = null; }
  R.store = { key: storeKey, info: storeInfo(raw) };
  R.storeCands = [];
  ["sessionStorage", "localStorage"].forEach(function (name) {
    var pair = [name, null];
    try {
      var st = pair[1] = window[name];
      for (var i = 0; i < st.length && i < 500; i++) {
        var k = st.key(i);
        if (k === storeKey && pair[0] === "sessionStorage") continue;
        var v = st.getItem(k) || "";
        if (v.length < 4000000 && v.indexOf('"videoByMediaId"') >= 0)
          R.storeCands.push({ kind: "storage key", selector: clip(k, 200), label: "", text: pair[0], note: "", score: pair[0] === "sessionStorage" ? 1 : 0 });
      }
    } catch (e) {}
  });

  // observer and binding
  var obs = window[flag];
  R.observer = { present: !!obs, version: obs ? obs.version : null, docId: obs ? String(obs.docId || "") : null,
                 current: !!(obs && obs.version === version), binding: typeof window[binding] === "function" };

  // generation endpoint in this page's resource timings (loaded before the check)
  var used = 0;
  try {
    performance.getEntriesByType("resource").forEach(function (e) {
      try { if (new URL(e.name).pathname.replace(/\/+$/, "") === genPath) used++; } catch (x) {}
    });
  } catch (e) {}
  R.endpointUsed = used;
  return R;
})"""

_JS_LOADED = 'location.protocol.indexOf("http") === 0 && document.readyState === "complete"'

# The editor's exact text, selection and focus (so all three can be put back).
_JS_EDITOR_STATE = r"""(function (sels) {
  %s
  var el = __first(sels);
  if (!el) return null;
  var a = document.activeElement;
  return { text: __read(el), focused: a === el || el.contains(a),
           sel: __isText(el) ? [el.selectionStart, el.selectionEnd, el.selectionDirection || "none"] : null };
})""" % _JS_HELPERS

# Focus the editor and select all of it, without scrolling.
_JS_FOCUS_ALL = r"""(function (sels) {
  %s
  var el = __first(sels);
  if (!el) return false;
  try { el.focus({ preventScroll: true }); } catch (e) { el.focus(); }
  __selectAll(el);
  return true;
})""" % _JS_HELPERS

_JS_READ_RAW = r"""(function (sels) {
  %s
  var el = __first(sels);
  return el ? __read(el) : null;
})""" % _JS_HELPERS

_JS_PUT_BACK_SELECTION = r"""(function (sels, st) {
  %s
  var el = __first(sels);
  if (!el) return false;
  if (st.sel && __isText(el)) { try { el.setSelectionRange(st.sel[0], st.sel[1], st.sel[2]); } catch (e) {} }
  if (!st.focused && (document.activeElement === el || el.contains(document.activeElement))) el.blur();
  return true;
})""" % _JS_HELPERS


def _best(cands: list[dict]) -> dict | None:
    ranked = sorted(cands, key=lambda c: -int(c.get("score") or 0))
    return ranked[0] if ranked else None


def _cands(raw: list, limit: int = 6) -> tuple[Candidate, ...]:
    ranked = sorted((c for c in raw if isinstance(c, dict)), key=lambda c: -int(c.get("score") or 0))
    return tuple(
        Candidate(
            kind=str(c.get("kind", "")), selector=str(c.get("selector", "")), label=str(c.get("label", "")),
            text=str(c.get("text", "")), note=str(c.get("note", "")),
        )
        for c in ranked[:limit]
    )


def _nth(index: int, of: int) -> str:
    return "the only one" if of <= 1 else f"{index + 1} of {of}"


class Probe:
    """Checks the attached page for every signal (blocking: call it from a worker thread)."""

    def __init__(self, page: Page, dom: DomSignals, network: GenerationWatch):
        self.page, self.dom, self.network = page, dom, network

    def run(self, *, write_test: bool = True, skip_reason: str = "") -> ProbeReport:
        page = self.page
        sel = page.selectors
        self._wait_loaded(5.0)
        ident = page.identity()
        self._wait_binding(1.0)
        r = page.eval(
            js_call(_JS_PROBE, sel, str(sel.get("storeKey") or "useMediaStore"), GENERATION_PATH, page.flag,
                    page.binding, OBSERVER_VERSION)
        )
        if not isinstance(r, dict):
            raise BrowserError("the page check returned nothing")
        unrestored: list[str] = []
        rows = (
            self._editor(r, write_test, skip_reason, unrestored),
            self._button(r),
            self._progress(r),
            self._toasts(r),
            self._image(r, ident.media_id),
            self._video(r),
            self._store(r, ident.media_id),
            self._observer(r),
            self._endpoint(r),
        )
        return ProbeReport(ident.url, ident.title, rows, unrestored[0] if unrestored else None)

    # ------------------------------------------------------------------ rows

    @staticmethod
    def _row(key: str, status: str, how: str, cands: tuple[Candidate, ...] = (), suggest: dict | None = None) -> Row:
        name, essential = _ROW[key]
        return Row(key, name, essential, status, how, cands, dict(suggest or {}))

    def _missing(self, key: str, sel_key: str, r: dict, cands_key: str, what: str, more=None) -> Row:
        """A row whose selectors match nothing: the candidates, and the best one as `sel_key` (+ `more(best)`)."""
        sels = as_list(self.page.selectors.get(sel_key))
        raw = [c for c in r.get(cands_key) or [] if isinstance(c, dict)]
        best = _best(raw)
        suggest = {sel_key: self._with_own(sel_key, str(best["selector"])), **(more(best) if more else {})} if best else {}
        how = f"none of the {len(sels)} {sel_key!r} selectors matches" + ("" if raw else f"; no {what} on the page")
        return self._row(key, MISSING, how, _cands(raw), suggest)

    def _with_own(self, sel_key: str, found: str) -> list[str]:
        """`found` first, then the user's own [selectors] entries for the key (kept: the page may show them again,
        as Grok's button reads "Make video" before a post has a video and "Redo" after)."""
        current = as_list(self.page.selectors.get(sel_key))
        if current == as_list(DEFAULT_SELECTORS.get(sel_key)):
            return [found]
        return [found] + [s for s in current if s != found]

    def _editor(self, r: dict, write_test: bool, skip_reason: str, unrestored: list[str]) -> Row:
        ed = r.get("editor")
        if not isinstance(ed, dict):
            return self._missing("editor", "prompt", r, "editorCands", "textarea or editable")
        how = f"{ed.get('selector')} ({_nth(int(ed.get('index') or 0), int(ed.get('of') or 1))}, a {ed.get('kind')})"
        if not ed.get("visible"):
            how += ", hidden"
        if not write_test:
            return self._row("editor", FOUND, f"{how}; writable: not tested ({skip_reason or 'skipped'})")
        ok, what = self._write_test(as_list(self.page.selectors.get("prompt")), unrestored)
        return self._row("editor", FOUND if ok else MISSING, f"{how}; {what}")

    def _write_test(self, sels: list[str], unrestored: list[str]) -> tuple[bool, str]:
        """Write a marker, read it back, put the user's text back exactly. (writable, what happened)."""
        page = self.page
        state = page.eval(js_call(_JS_EDITOR_STATE, sels))
        if not isinstance(state, dict) or not isinstance(state.get("text"), str):
            return False, "writable: the editor went away before the test"
        original = state["text"]
        marker = f"grok-tui doctor write test {secrets.token_hex(4)}"
        try:
            got = self._write(sels, marker)
        except BrowserError as exc:
            got = None
            failure = f"the marker could not be written ({exc})"
        else:
            failure = "" if got == marker else f"the marker did not stick (read back {len(got or '')} chars)"
        back = self._write(sels, original)
        if back != original:
            page.eval(js_call(_JS_SET_VALUE, sels, original))
            back = page.eval(js_call(_JS_READ_RAW, sels))
        try:
            page.eval(js_call(_JS_PUT_BACK_SELECTION, sels, state))
        except BrowserError:
            pass
        if back != original:
            unrestored.append(original)
            return False, f"writable: YOUR TEXT COULD NOT BE PUT BACK ({len(original)} chars; printed below)"
        if failure:
            return False, f"not writable: {failure}; your text is unchanged"
        return True, f"writable (marker written, read back, your {len(original)} chars put back exactly; nothing sent)"

    def _write(self, sels: list[str], text: str) -> str | None:
        page = self.page
        if not page.eval(js_call(_JS_FOCUS_ALL, sels)):
            return None
        if text:
            page.call("Input.insertText", text=text)
        else:
            page.eval(_JS_DELETE_SELECTION)
        got = page.eval(js_call(_JS_READ_RAW, sels))
        return got if isinstance(got, str) else None

    def _button(self, r: dict) -> Row:
        b = r.get("button")
        if not isinstance(b, dict):
            return self._missing("button", "generate", r, "buttonCands", "button")
        parts = [f"{b.get('selector')} ({_nth(int(b.get('index') or 0), int(b.get('of') or 1))})", f"label {b.get('label')!r}"]
        parts.append("disabled" if b.get("disabled") else "enabled")
        if not b.get("size"):
            parts.append("no size on screen")
        elif not b.get("inView"):
            parts.append("off screen (a session scrolls it into view)")
        elif b.get("covered"):
            parts.append(f"its centre is covered by {b.get('cover')}")
        else:
            parts.append("nothing covers its centre")
        return self._row("button", FOUND, ", ".join(parts))

    def _progress(self, r: dict) -> Row:
        p = r.get("progress") or {}
        found = [s for s in (p.get("button"), p.get("overlay")) if s]
        if not found:
            sels = as_list(self.page.selectors.get("progressButton")) + as_list(self.page.selectors.get("progressOverlay"))
            return self._row("progress", MISSING, f"none of {', '.join(sels)} is on the page (percentages come from the stream alone)")
        pct = p.get("percent") if p.get("percent") is not None else p.get("overlayPercent")
        now = f"shows {pct:g} %" if isinstance(pct, (int, float)) else "no percentage now (one shows while a video is made)"
        return self._row("progress", FOUND, f"{' and '.join(found)}: {now}")

    def _toasts(self, r: dict) -> Row:
        t = r.get("toasts")
        if isinstance(t, dict):
            return self._row("toasts", FOUND, f"{t.get('selector')} ({t.get('items', 0)} notice(s) showing now)")
        return self._missing("toasts", "toastContainer", r, "toastCands", "live region",
                             more=lambda best: {"toastItem": [str(best.get("item") or "li")]})

    def _image(self, r: dict, media_id: str | None) -> Row:
        im = r.get("image")
        if media_id and isinstance(im, dict):
            return self._row("image", FOUND, f"{media_id} from {im.get('selector')}")
        raw = [c for c in r.get("imageCands") or [] if isinstance(c, dict)]
        usable = [c for c in raw if c.get("imagine")]
        best = _best(usable)
        how = "no image whose address names an imagine-public/images/<id>" if not usable else \
            f"none of the {len(as_list(self.page.selectors.get('sourceImage')))} 'sourceImage' selectors matches"
        return self._row("image", MISSING, how, _cands(raw), {"sourceImage": [str(best["selector"])]} if best else {})

    def _video(self, r: dict) -> Row:
        v = r.get("video") or {}
        if int(v.get("count") or 0) > 0:
            return self._row("video", FOUND, f"{v.get('selector')} ({v.get('count')} on the page)")
        if int(v.get("others") or 0) == 0:
            return self._row("video", NOT_YET, "no video on this post yet (make one, then check again)")
        return self._missing("video", "video", r, "videoCands", "video")

    def _store(self, r: dict, media_id: str | None) -> Row:
        s = r.get("store") or {}
        key, info = s.get("key"), s.get("info")
        if isinstance(info, dict) and info.get("shape"):
            return self._row("store", FOUND, f"sessionStorage {key!r}: {info.get('entries', 0)} entr(y/ies) over {info.get('images', 0)} image(s)")
        raw = [c for c in r.get("storeCands") or [] if isinstance(c, dict)]
        if isinstance(info, dict):
            what = "is not JSON" if not info.get("parses") else "has no state.videoByMediaId"
            best = _best(raw)
            return self._row("store", MISSING, f"sessionStorage {key!r} {what}", _cands(raw),
                             {"storeKey": str(best["selector"])} if best else {})
        if raw:
            best = _best(raw)
            return self._row("store", MISSING, f"no sessionStorage {key!r}; another key holds videoByMediaId", _cands(raw),
                             {"storeKey": str(best["selector"])} if best else {})
        return self._row("store", NOT_YET, f"no sessionStorage {key!r} yet (Grok writes it when a video is made in this tab)")

    def _observer(self, r: dict) -> Row:
        o = r.get("observer") or {}
        calls = self.dom.gate.received
        if o.get("current") and o.get("binding") and calls > 0:
            return self._row("observer", FOUND, f"installed in document {o.get('docId')}, binding {self.page.binding} answered ({calls} call(s) received)")
        if not o.get("present"):
            why = "the observer is not installed (the page may block injected scripts)"
        elif not o.get("current"):
            why = f"an observer of another version ({o.get('version')}) runs in the page"
        elif not o.get("binding"):
            why = f"the binding {self.page.binding} is not defined in the page"
        else:
            why = "the binding is defined but no call reached grok-tui"
        return self._row("observer", MISSING, f"{why}; DOM and store signals are lost, the network stream still works")

    def _endpoint(self, r: dict) -> Row:
        with self.network.board.lock:
            seen = self.network.requests
        if seen:
            return self._row("endpoint", FOUND, f"POST {GENERATION_PATH} seen since attach ({seen} request(s))")
        used = int(r.get("endpointUsed") or 0)
        if used:
            return self._row("endpoint", FOUND, f"{GENERATION_PATH} used by this page before the check ({used} in its resource timings); none since attach")
        return self._row("endpoint", NOT_YET, f"no {GENERATION_PATH} request since attach or in this page's timings (make one video, then check again)")

    def _wait_loaded(self, timeout: float) -> None:
        """A tab still loading has no composer yet: wait until its web page is complete (or `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.page.eval(_JS_LOADED, timeout=2.0):
                    return
            except BrowserError:  # the document is changing
                pass
            time.sleep(0.05)

    def _wait_binding(self, timeout: float) -> None:
        """The observer's first binding call ("ready") follows the install; give it a moment."""
        deadline = time.monotonic() + timeout
        while self.dom.gate.received == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
