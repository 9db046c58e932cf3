/* grok-tui page observer: reports Grok Imagine's DOM signals through a CDP binding.
 *
 * Injected by grok_tui/browser/observer.py as `(function (cfg) {...})(<settings JSON>)`.
 * Idempotent (window flag), batched (one binding call per mutation burst), read-only:
 * it never changes the page. Every payload is JSON; the link validates it.
 */
(function (cfg) {
  "use strict";
  var FLAG = cfg.flag || "__grokTuiObserver";
  if (window !== window.top) return "frame";  // the main frame only
  var prev = window[FLAG];
  if (prev && prev.version === cfg.version) {
    try { prev.check(); } catch (e) { /* ignore */ }
    return "present";
  }
  if (prev && typeof prev.stop === "function") {
    try { prev.stop(); } catch (e) { /* ignore */ }
  }

  var S = cfg.selectors;
  var BINDING = cfg.binding;
  var MAX_TEXT = 500;
  var docId = Math.random().toString(36).slice(2, 10);
  var state = {
    progress: null, route: null, store: null,
    videos: {}, toasts: {}, toastCount: 0,
    shown: [], counter: 0,
    stopped: false
  };
  // A toast is its element: the key given to an element stays its key while it shows the same text.
  var toastKeys = (typeof WeakMap === "function") ? new WeakMap() : null;

  function list(x) { return Array.isArray(x) ? x : (x ? [x] : []); }

  function first(sels, root) {
    var l = list(sels);
    for (var i = 0; i < l.length; i++) {
      try {
        var el = (root || document).querySelector(l[i]);
        if (el) return el;
      } catch (e) { /* bad selector: skip */ }
    }
    return null;
  }

  function all(sels, root) {
    var out = [], l = list(sels);
    for (var i = 0; i < l.length; i++) {
      try {
        var found = (root || document).querySelectorAll(l[i]);
        for (var k = 0; k < found.length; k++) if (out.indexOf(found[k]) < 0) out.push(found[k]);
      } catch (e) { /* bad selector: skip */ }
    }
    return out;
  }

  function clip(s, n) { s = String(s == null ? "" : s); return s.length > n ? s.slice(0, n) : s; }

  function percentOf(text) {
    var m = /(\d+(?:\.\d+)?)\s*%/.exec(text || "");
    if (!m) return null;
    var v = parseFloat(m[1]);
    if (!isFinite(v)) return null;
    return Math.max(0, Math.min(100, v));
  }

  function progressNow() {
    var best = null, v;
    var btn = first(S.progressButton);
    if (btn) {
      var inner = btn.querySelector("div, span");
      v = percentOf((inner || btn).textContent);
      if (v !== null) best = v;
    }
    var ovs = all(S.progressOverlay);
    for (var i = 0; i < ovs.length; i++) {
      v = percentOf(ovs[i].textContent);
      if (v !== null && (best === null || v > best)) best = v;
    }
    return best;
  }

  function toastText(li) {
    var inner = null;
    try { inner = li.querySelector(S.toastText || "span, div"); } catch (e) { inner = null; }
    var t = ((inner && inner.textContent) || li.textContent || "").replace(/\s+/g, " ").trim();
    return clip(t, MAX_TEXT);
  }

  // Which toast each visible notification is (its key), so that each counts once:
  // - an element seen before is the same toast while its text stays the same (a toast
  //   hidden and shown again, e.g. beyond the list's visible count, is not new);
  // - a new element with the page's own identity (data-ts) is keyed by it;
  // - a new element without one that takes the place of a toast with the same text that
  //   left the list in the same change is that toast re-rendered (Grok's notification
  //   list re-renders: the old element is removed and a new one, without its identity,
  //   added); of several, the one at the nearest position in the list;
  // - anything else is a new toast.
  // Two toasts with the same text showing at once are two toasts (no text-only identity).
  function toastsNow() {
    var container = first(S.toastContainer);
    var items = all(S.toastItem, container || document);
    var entries = [], i, j;
    for (i = 0; i < items.length; i++) {
      var text = toastText(items[i]);
      if (text) entries.push({ el: items[i], text: text, key: null, pos: entries.length });
    }
    var gone = [];
    for (i = 0; i < state.shown.length; i++) {
      var was = state.shown[i], still = false;
      for (j = 0; j < entries.length; j++) if (entries[j].el === was.el) { still = true; break; }
      if (!still) gone.push(was);
    }
    var out = [];
    for (i = 0; i < entries.length; i++) {
      var e = entries[i];
      var ts = e.el.getAttribute("data-ts");
      var known = toastKeys ? toastKeys.get(e.el) : null;
      if (known && known.text === e.text) {
        e.key = known.key;
      } else {
        if (ts) {
          e.key = "ts:" + clip(ts, 40) + "|" + e.text;
        } else {
          var best = -1;
          for (j = 0; j < gone.length; j++) {
            if (gone[j].text !== e.text) continue;
            if (best < 0 || Math.abs(gone[j].pos - e.pos) < Math.abs(gone[best].pos - e.pos)) best = j;
          }
          if (best >= 0) {
            e.key = gone[best].key;  // re-rendered: the toast it replaces
            gone.splice(best, 1);
          } else {
            e.key = "doc:" + docId + "#" + (++state.counter) + "|" + e.text;
          }
        }
        if (toastKeys) toastKeys.set(e.el, { key: e.key, text: e.text });
      }
      var n = Number(ts);
      out.push({ key: e.key, text: e.text, ts: (ts && isFinite(n)) ? n : Date.now() });
    }
    state.shown = entries.map(function (x) { return { el: x.el, text: x.text, key: x.key, pos: x.pos }; });
    return out;
  }

  function videosNow() {
    var out = [], vids = all(S.video);
    for (var i = 0; i < vids.length; i++) {
      var v = vids[i];
      var src = v.currentSrc || v.src || v.getAttribute("src") || "";
      if (!src) continue;
      var scope = v.closest("article") || v.parentElement || document;
      var blocked = null;
      try { blocked = scope.querySelector(S.videoBlockers); } catch (e) { blocked = null; }
      if (!blocked && out.indexOf(src) < 0) out.push(clip(src, 4096));
    }
    return out;
  }

  function storeNow() {
    var raw = null;
    try { raw = window.sessionStorage.getItem(S.storeKey || "useMediaStore"); } catch (e) { raw = null; }
    return raw;
  }

  function storeEntries(raw) {
    var entries = [];
    var data;
    try { data = JSON.parse(raw); } catch (e) { return entries; }
    var byMedia = data && data.state && data.state.videoByMediaId;
    if (!byMedia || typeof byMedia !== "object") return entries;
    Object.keys(byMedia).forEach(function (mediaId) {
      var arr = byMedia[mediaId];
      if (!Array.isArray(arr)) return;
      arr.forEach(function (e) {
        if (!e || typeof e !== "object") return;
        var o = { mediaId: clip(mediaId, 200) };
        if (typeof e.videoId === "string") o.videoId = clip(e.videoId, 200);
        if (typeof e.progress === "number" && isFinite(e.progress)) o.progress = e.progress;
        if (typeof e.moderated === "boolean") o.moderated = e.moderated;
        if (typeof e.mediaUrl === "string") o.mediaUrl = clip(e.mediaUrl, 2048);
        if (typeof e.videoUrl === "string") o.videoUrl = clip(e.videoUrl, 2048);
        entries.push(o);
      });
    });
    return entries.slice(-100);
  }

  function send(batch) {
    if (!batch.length || state.stopped) return;
    var fn = window[BINDING];
    if (typeof fn !== "function") return;
    try { fn(JSON.stringify(batch.slice(0, 50))); } catch (e) { /* binding gone */ }
  }

  function check() {
    if (state.stopped) return;
    if (typeof window[BINDING] !== "function") return;  // not yet: keep state until it can be sent
    var batch = [];
    var path = location.pathname;
    if (path !== state.route) {
      state.route = path;
      batch.push({ kind: "route", path: clip(path, 2048) });
    }
    var toasts = toastsNow();
    for (var i = 0; i < toasts.length; i++) {
      if (state.toasts[toasts[i].key]) continue;
      if (state.toastCount > 500) { state.toasts = {}; state.toastCount = 0; }
      state.toasts[toasts[i].key] = 1;
      state.toastCount++;
      batch.push({ kind: "toast", text: toasts[i].text, ts: toasts[i].ts, key: toasts[i].key });
    }
    var p = progressNow();
    if (p !== state.progress) {
      state.progress = p;
      if (p !== null) batch.push({ kind: "progress", percent: p });
    }
    var vids = videosNow();
    for (var k = 0; k < vids.length; k++) {
      if (state.videos[vids[k]]) continue;
      state.videos[vids[k]] = 1;
      batch.push({ kind: "video", src: vids[k] });
    }
    var raw = storeNow();
    if (raw !== state.store) {
      state.store = raw;
      if (raw) batch.push({ kind: "mediaStore", entries: storeEntries(raw) });
    }
    send(batch);
  }

  function snapshot() {
    var raw = storeNow();
    return {
      docId: docId,
      path: location.pathname,
      videos: videosNow(),
      toasts: toastsNow().map(function (t) { return t.key; }),
      store: raw ? storeEntries(raw) : [],
      progress: progressNow()
    };
  }

  var pending = false;
  function schedule() {
    if (pending || state.stopped) return;
    pending = true;
    Promise.resolve().then(function () {
      pending = false;
      try { check(); } catch (e) { /* never break the page */ }
    });
  }

  var observer = new MutationObserver(schedule);
  observer.observe(document, {
    childList: true, subtree: true, characterData: true,
    attributes: true, attributeFilter: ["src", "data-visible", "data-ts", "alt", "aria-label"]
  });
  var timer = setInterval(schedule, 1000);

  function stop() {
    state.stopped = true;
    observer.disconnect();
    clearInterval(timer);
    if (window[FLAG] === api) {
      try { delete window[FLAG]; } catch (e) { window[FLAG] = undefined; }
    }
  }

  var api = { version: cfg.version, docId: docId, check: check, stop: stop, snapshot: snapshot };
  try {
    Object.defineProperty(window, FLAG, { value: api, configurable: true, enumerable: false, writable: true });
  } catch (e) {
    window[FLAG] = api;
  }
  send([{ kind: "ready", docId: docId }]);
  schedule();
  return "installed";
})
