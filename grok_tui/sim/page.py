"""HTML/JS of the simulated Grok Imagine pages (no external resources)."""

from __future__ import annotations

import html
import json

LABELS = {
    "en": {
        "lang": "en",
        "prompt": "Make a video",
        "placeholder": "Type to customize video...",
        "make": "Make video",
        "redo": "Redo",
    },
    "es": {
        "lang": "es",
        "prompt": "Crear un video",
        "placeholder": "Escribe para personalizar el video...",
        "make": "Crear video",
        "redo": "Rehacer",
    },
}

# SimSite(markup="changed"): Grok changed its page (issue 16): other labels, another toast container.
CHANGED_LABELS = {"prompt": "Describe your video", "placeholder": "What should happen?", "make": "Generate video",
                  "redo": "Regenerate"}

MODERATED_TEXT = "Content Moderated. Try a different idea."
RATE_LIMIT_TEXT = "Rate limit reached. Please slow down."
# What the page that is not a post (foreign origin, /settings/account) holds in its editor.
FOREIGN_DRAFT = "My unsent draft: do not overwrite"
# The toast SimSite(cover_toast_ms=...) / cover_button() puts over the generate button.
COVER_TOAST_TEXT = "Video saved to your library"
# A moderation toast text with newlines and ESC / BEL control sequences (log forging,
# terminal escapes); still a moderation text. SimSite(moderated_text=CONTROL_TOAST_TEXT).
CONTROL_TOAST_TEXT = (
    "Content Moderated.\n2026-01-01 00:00:00 INFO forged log line\r\n"
    "\x1b[2J\x1b[31mred\x1b[0m \x1b]0;pwned title\x07\x07 Try a different idea."
)

# 1x1 transparent GIF for the Loading / Moderated placeholders (never an imagine-public URL).
_GIF = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"

CSS = """
*{box-sizing:border-box}
body{margin:0;background:#0b0b0d;color:#e8e8ea;font:14px/1.4 system-ui,sans-serif}
header{padding:10px 16px;border-bottom:1px solid #222;font-weight:600}
main{max-width:900px;margin:0 auto;padding:16px}
article{position:relative;border:1px solid #2a2a2e;border-radius:12px;padding:12px;min-height:300px}
.media{display:flex;gap:12px;align-items:flex-start}
.media img.source{width:256px;height:256px;border-radius:8px;object-fit:cover;background:#333}
#stage{width:256px;height:256px;border-radius:8px;background:#18181b;position:relative}
#stage video{width:256px;height:256px;background:#000}
#stage img{width:256px;height:256px;opacity:.3}
.overlay{position:absolute;left:24px;bottom:24px;background:#000a;padding:4px 8px;border-radius:6px}
.composer{margin-top:16px;display:flex;gap:8px;align-items:flex-end;border:1px solid #2a2a2e;border-radius:12px;padding:8px}
.composer textarea,.composer .ProseMirror{flex:1;min-height:48px;background:#111114;color:#eee;border:1px solid #333;
  border-radius:8px;padding:8px;font:inherit;white-space:pre-wrap;outline:none}
.composer button{height:40px;min-width:96px;border-radius:20px;border:0;background:#f4f4f5;color:#000;font-weight:600;cursor:pointer}
.composer button[aria-label="Video Options"]{background:#27272a;color:#eee;min-width:64px}
section[aria-live]{position:fixed;right:16px;bottom:16px;width:340px}
section[aria-live] ol{list-style:none;margin:0;padding:0}
div.notices{position:fixed;right:16px;bottom:16px;width:340px}
div.notices ul{list-style:none;margin:0;padding:0}
li.notice{background:#27272a;border:1px solid #3f3f46;border-radius:8px;padding:10px 12px;margin-top:8px}
li.notice p{margin:0}
li.toast{background:#27272a;border:1px solid #3f3f46;border-radius:8px;padding:10px 12px;margin-top:8px}
header nav{display:inline;margin-left:16px;font-weight:400}
header nav a,nav.more-posts a{color:#a1a1aa;margin-right:8px}
nav.more-posts{margin-top:12px}
.composer{position:relative}
.options-menu{position:absolute;right:8px;bottom:60px;background:#18181b;border:1px solid #3f3f46;border-radius:12px;padding:8px;z-index:50}
.options-menu [role=group]{display:flex;gap:4px;align-items:center;margin:4px 0}
.options-menu [role=group] span{width:96px;color:#a1a1aa}
.options-menu button{height:28px;min-width:0;padding:0 8px;border-radius:14px;border:0;background:#27272a;color:#eee}
.options-menu button[aria-checked=true]{background:#f4f4f5;color:#000}
[data-sim-dialog]{position:fixed;z-index:2000;background:#000c;display:flex;align-items:center;justify-content:center;gap:12px}
[data-sim-dialog] .box{background:#18181b;border:1px solid #3f3f46;border-radius:12px;padding:16px}
[data-sim-dialog] button{height:32px;border-radius:16px;border:0;padding:0 12px;margin:4px;cursor:pointer}
.gallery a{display:inline-block;margin:8px}
.gallery img{width:160px;height:160px;border-radius:8px;object-fit:cover}
"""

# Shared by the post page (its /settings view) and the foreign page: the test records
# (POST /__sim/event on the page's own origin -> SimSite.page_events) and a draft composer
# that looks like Grok's (a contenteditable or textarea and a "Make video" button) but
# is not a post: it only records what is done to it.
DRAFT_JS = r"""
(function () {
  "use strict";
  var DCFG = JSON.parse(document.getElementById("sim-draft").textContent);
  function event(view, kind, target, extra) {
    var o = { view: view, kind: kind, target: target, path: location.pathname };
    for (var k in (extra || {})) o[k] = extra[k];
    try {
      fetch("/__sim/event", { method: "POST", body: JSON.stringify(o), keepalive: true,
                              headers: { "Content-Type": "application/json" } }).catch(function () {});
    } catch (e) {}
  }
  function view(name) {
    var sec = document.createElement("section");
    sec.className = "draft"; sec.setAttribute("data-sim-view", name);
    var h = document.createElement("h2"); h.textContent = DCFG.titles[name] || name; sec.appendChild(h);
    if (DCFG.image) {
      var im = document.createElement("img"); im.alt = "Image"; im.width = 128; im.height = 128;
      im.src = "/imagine-public/images/" + DCFG.image + ".jpg"; sec.appendChild(im);
    }
    var box = document.createElement("div"); box.className = "composer"; sec.appendChild(box);
    var ed;
    if (DCFG.editor === "textarea") {
      ed = document.createElement("textarea"); ed.rows = 2; ed.value = DCFG.draft;
    } else {
      ed = document.createElement("div"); ed.className = "tiptap ProseMirror"; ed.contentEditable = "true";
      ed.setAttribute("role", "textbox"); ed.textContent = DCFG.draft;
    }
    ed.setAttribute("aria-label", DCFG.labels.prompt);
    var btn = document.createElement("button"); btn.type = "button";
    btn.setAttribute("aria-label", DCFG.labels.make); btn.textContent = DCFG.labels.make;
    box.appendChild(ed); box.appendChild(btn);
    function text() { return ed.tagName === "TEXTAREA" ? ed.value : ed.innerText; }
    // Any change of its text is recorded once: input events, DOM mutations without one, and
    // (textarea) a value assigned without an event, seen by a light 200 ms check.
    var last = text();
    function changed() { var t = text(); if (t !== last) { last = t; event(name, "text", "editor", { text: t }); } }
    ed.addEventListener("input", changed);
    new MutationObserver(changed).observe(ed, { childList: true, subtree: true, characterData: true });
    if (ed.tagName === "TEXTAREA") setInterval(changed, 200);
    btn.addEventListener("mousedown", function (ev) { event(name, "press", "make-video", { trusted: ev.isTrusted }); });
    btn.addEventListener("click", function (ev) { event(name, "click", "make-video", { trusted: ev.isTrusted, text: text() }); });
    return sec;
  }
  window.__simDraft = { event: event, view: view, draft: DCFG.draft };
})();
"""

JS = r"""
(function () {
  "use strict";
  var CFG = JSON.parse(document.getElementById("sim-config").textContent);
  var L = CFG.labels;
  var mediaId = CFG.mediaId;            // the source image id: never changes in this document
  var promptState = "";                  // React-like state: updated only from input events
  var generating = false;
  var hasVideo = !!CFG.video;
  var article = document.querySelector("article");
  var stage = document.getElementById("stage");
  var editor = document.getElementById("prompt-editor");
  var genBtn = document.getElementById("generate");
  var optDiv = document.querySelector('button[aria-label="Video Options"] > div');
  var toastList = document.querySelector("[data-sim-toasts] > ol, [data-sim-toasts] > ul");
  var overlay = null;
  var lastProgress = 0;
  var progressCount = 0;
  var K = CFG.knobs;                     // live knobs (SimSite.set_knobs updates them)
  var postView = document.getElementById("view-post");
  var mainEl = document.querySelector("main");
  var otherView = null;

  var simEvent = window.__simDraft.event, draftView = window.__simDraft.view;

  // ---- the ProseMirror variant: a document of paragraphs, edited through beforeinput,
  // rendered as <p> per paragraph (an empty one holds a trailing <br>), serialised
  // as the paragraphs joined by "\n" (a blank line is an empty paragraph).
  var paras = [""];
  function pmRender(caret) {
    editor.textContent = "";
    for (var i = 0; i < paras.length; i++) {
      var p = document.createElement("p");
      if (paras[i]) p.textContent = paras[i];
      else {
        p.className = "is-empty";
        var br = document.createElement("br"); br.className = "ProseMirror-trailingBreak";
        p.appendChild(br);
      }
      editor.appendChild(p);
    }
    if (paras.length === 1 && !paras[0]) {
      editor.firstChild.classList.add("is-editor-empty");
      editor.firstChild.setAttribute("data-placeholder", L.placeholder);
    }
    if (caret && document.activeElement === editor) {
      var pe = editor.children[caret.p], r = document.createRange();
      if (pe.firstChild && pe.firstChild.nodeType === 3) r.setStart(pe.firstChild, caret.o);
      else r.setStart(pe, 0);
      r.collapse(true);
      var s = window.getSelection(); s.removeAllRanges(); s.addRange(r);
    }
  }
  function pmPoint(node, off) {           // a DOM point -> {p: paragraph, o: offset}
    if (node === editor) {
      if (off >= editor.children.length) return { p: paras.length - 1, o: paras[paras.length - 1].length };
      return { p: off, o: 0 };
    }
    var pe = node;
    while (pe && pe.parentNode !== editor) pe = pe.parentNode;
    if (!pe) return { p: paras.length - 1, o: paras[paras.length - 1].length };
    var p = Array.prototype.indexOf.call(editor.children, pe), o = 0;
    if (p < 0) return { p: paras.length - 1, o: paras[paras.length - 1].length };
    if (node.nodeType === 3) {
      var w = document.createTreeWalker(pe, NodeFilter.SHOW_TEXT), t;
      while ((t = w.nextNode()) && t !== node) o += t.data.length;
      o += off;
    } else {
      for (var i = 0; i < off && i < node.childNodes.length; i++) o += node.childNodes[i].textContent.length;
    }
    return { p: p, o: Math.min(o, paras[p].length) };
  }
  function pmRange() {
    var s = window.getSelection();
    if (!s.rangeCount || !editor.contains(s.getRangeAt(0).startContainer)) {
      var end = { p: paras.length - 1, o: paras[paras.length - 1].length };
      return [end, end];
    }
    var r = s.getRangeAt(0);
    return [pmPoint(r.startContainer, r.startOffset), pmPoint(r.endContainer, r.endOffset)];
  }
  function pmReplace(a, b, text) {
    var lines = String(text).replace(/\r\n?/g, "\n").split("\n");
    var last = lines.length - 1;
    var before = paras[a.p].slice(0, a.o), after = paras[b.p].slice(b.o);
    lines[0] = before + lines[0];
    var caret = { p: a.p + last, o: lines[last].length };
    lines[last] += after;
    Array.prototype.splice.apply(paras, [a.p, b.p - a.p + 1].concat(lines));
    pmRender(caret);
  }
  function pmBack(a) { return a.o > 0 ? { p: a.p, o: a.o - 1 } : (a.p > 0 ? { p: a.p - 1, o: paras[a.p - 1].length } : a); }
  function pmFwd(a) { return a.o < paras[a.p].length ? { p: a.p, o: a.o + 1 } : (a.p < paras.length - 1 ? { p: a.p + 1, o: 0 } : a); }
  function pmSame(a, b) { return a.p === b.p && a.o === b.o; }
  function pmParse() {                    // DOM -> paragraphs (after an edit we did not handle)
    var out = [], cur = null;
    function flush() { if (cur !== null) out.push(cur); cur = null; }
    function walk(n, top) {
      if (n.nodeType === 3) { var parts = n.data.split("\n"); for (var i = 0; i < parts.length; i++) { if (i) { flush(); } cur = (cur || "") + parts[i]; } return; }
      if (n.nodeType !== 1) return;
      if (n.tagName === "BR") { if (n.nextSibling || !n.parentNode || n.parentNode === editor) { cur = cur || ""; flush(); } else cur = cur || ""; return; }
      var block = /^(P|DIV|LI|H[1-6]|PRE|BLOCKQUOTE)$/.test(n.tagName);
      if (block) flush();
      for (var c = n.firstChild; c; c = c.nextSibling) walk(c, false);
      if (block) { cur = cur || ""; flush(); }
    }
    for (var c = editor.firstChild; c; c = c.nextSibling) walk(c, true);
    flush();
    return out.length ? out : [""];
  }
  if (CFG.editor !== "textarea") {
    pmRender(null);
    editor.addEventListener("beforeinput", function (ev) {
      var t = ev.inputType, rg = pmRange(), a = rg[0], b = rg[1], text = null;
      if (t === "insertText" || t === "insertReplacementText" || t === "insertFromPaste" || t === "insertFromDrop") {
        text = ev.data;
        if (text == null && ev.dataTransfer) text = ev.dataTransfer.getData("text/plain");
        if (text == null) return;
      } else if (t === "insertParagraph" || t === "insertLineBreak") {
        text = "\n";
      } else if (/^delete/.test(t)) {
        text = "";
        if (pmSame(a, b)) { if (/Backward$/.test(t)) a = pmBack(a); else if (/Forward$/.test(t)) b = pmFwd(b); }
      } else {
        return;                           // composition etc.: the input event re-reads the DOM
      }
      ev.preventDefault();
      pmReplace(a, b, text);
      promptState = paras.join("\n");
    });
    editor.addEventListener("input", function () {   // an edit we did not intercept (execCommand)
      paras = pmParse(); pmRender({ p: paras.length - 1, o: paras[paras.length - 1].length });
      promptState = paras.join("\n");
    });
  } else {
    editor.addEventListener("input", function () { promptState = editor.value; });
  }

  function readEditor() {
    if (CFG.editor === "textarea") return editor.value;
    return paras.join("\n");
  }

  function render() {
    if (CFG.editor === "textarea") {
      if (editor.value !== promptState) editor.value = promptState;
    } else if (readEditor() !== promptState) {
      paras = promptState.split("\n"); pmRender(null);
    }
    var label = hasVideo ? L.redo : L.make;
    genBtn.setAttribute("aria-label", label);
    genBtn.textContent = label;
  }

  function img(alt) {
    var i = document.createElement("img");
    i.alt = alt; i.src = CFG.gif;
    return i;
  }

  // Where the page puts a finished video's URL (SimSite video_url_in): "dom" = the player's src,
  // "store" = the useMediaStore entry; the stream and the post list are the server's.
  var URL_IN = CFG.videoUrlIn || [];
  function urlIn(where) { return URL_IN.indexOf(where) >= 0; }
  var shownVideo = null;                 // the videoId the player shows
  function showVideo(url, videoId) {
    stage.textContent = "";
    var v = document.createElement("video");
    v.id = "sd-video"; v.muted = true; v.loop = true; v.playsInline = true;
    if (url && urlIn("dom")) v.src = url;
    v.setAttribute("preload", "none");
    stage.appendChild(v);
    shownVideo = videoId || null;
  }
  // After every generation the page reads its post list (GET /rest/media/post/list); a player
  // still without a URL (the stream named none) takes the list's.
  async function refreshPostList() {
    var posts;
    try { posts = (await (await fetch("/rest/media/post/list")).json()).posts || []; } catch (e) { return; }
    var v = document.querySelector("video#sd-video");
    for (var i = 0; i < posts.length; i++) {
      var p = posts[i];
      if (v && shownVideo && p.videoId === shownVideo && p.videoUrl && !v.getAttribute("src") && urlIn("dom")) v.src = p.videoUrl;
    }
  }

  function clearProgress() {
    if (overlay) { overlay.remove(); overlay = null; }
    optDiv.textContent = "";
  }

  function startUI() {
    stage.textContent = "";
    stage.appendChild(img("Loading"));
    clearProgress();
    overlay = document.createElement("span");
    overlay.className = "tabular-nums animate-pulse overlay";
    overlay.textContent = "Generating 0%";
    article.appendChild(overlay);
    lastProgress = 0; progressCount = 0;
  }

  function removeLoading() {
    var l = stage.querySelector('img[alt="Loading"]');
    if (l) l.remove();
  }

  function makeToast(text, ts) {
    var li = document.createElement("li");
    var changed = CFG.markup === "changed";
    li.className = changed ? "notice" : "toast";
    if (!changed) li.setAttribute("data-sonner-toast", "");
    li.setAttribute(changed ? "data-state" : "data-visible", changed ? "open" : "true");
    if (ts) li.setAttribute("data-ts", ts);
    var d = document.createElement(changed ? "p" : "div");
    d.textContent = text;
    li.appendChild(d);
    return li;
  }

  function toast(text, opts) {
    opts = opts || {};
    if (K.noToasts && !opts.force) return null;   // toasts never show: only the stream and store know
    var ms = opts.ms || CFG.toastMs;
    var ts = String(Date.now());
    var li = makeToast(text, ts);
    toastList.appendChild(li);
    var readd = opts.moderation ? K.toastReaddMs : null;
    if (readd) {
      // Grok's notification list re-renders: the toast is removed and a new element
      // (no data-ts, a new identity) takes its place, which then lives `ms` again.
      var wait = readd[0] + Math.random() * (readd[1] - readd[0]);
      setTimeout(function () {
        if (!li.isConnected) return;
        var n = makeToast(text, null);
        li.replaceWith(n); li = n;
        setTimeout(function () { n.remove(); }, ms);
      }, wait);
      return li;
    }
    if (ms > 1000) {
      setTimeout(function () {        // re-render: identical new element, same data-ts
        if (li.isConnected) { var n = makeToast(text, ts); li.replaceWith(n); li = n; }
      }, 1000);
    }
    setTimeout(function () { li.remove(); }, ms);
    return li;
  }

  // A toast placed over the generate button's centre (it takes the click) for `ms`.
  function coverToast(ms, text) {
    var r = genBtn.getBoundingClientRect();
    var li = makeToast(text || CFG.texts.cover, String(Date.now()));
    li.setAttribute("data-sim-cover", "");
    li.style.cssText = "position:fixed;margin:0;z-index:1000;left:" + (r.left - 24) + "px;top:" + (r.top - 12) +
      "px;width:" + (r.width + 48) + "px;height:" + (r.height + 24) + "px";
    li.addEventListener("click", function (ev) { simEvent("post", "click", "cover-toast", { trusted: ev.isTrusted }); });
    toastList.appendChild(li);
    setTimeout(function () { li.remove(); }, ms);
    return li;
  }

  function afterGeneration(after) {       // a generation finished (any outcome)
    refreshPostList();
    if (K.coverToastMs > 0) coverToast(K.coverToastMs);
    if (after && after.dialog) showDialog(after.dialog.kind, after.dialog.ms);
  }

  // A dialog over the generate button: Grok's "Which video do you prefer?" chooser (a
  // backdrop over the whole page) or an announcement banner (over the composer).
  function showDialog(kind, ms) {
    var d = document.createElement("div");
    d.setAttribute("role", "dialog"); d.setAttribute("aria-modal", "true"); d.setAttribute("data-sim-dialog", kind);
    var box = document.createElement("div"); box.className = "box"; d.appendChild(box);
    var h = document.createElement("h2"); box.appendChild(h);
    var buttons;
    if (kind === "banner") {
      var c = document.querySelector(".composer").getBoundingClientRect();
      d.setAttribute("aria-label", "Announcement");
      d.style.cssText = "left:0;right:0;top:" + (c.top - 8) + "px;height:" + (c.height + 16) + "px";
      h.textContent = "New in Imagine: longer videos";
      buttons = ["Got it"];
    } else {
      d.setAttribute("aria-label", "Which video do you prefer?");
      d.style.cssText = "left:0;top:0;right:0;bottom:0";
      h.textContent = "Which video do you prefer?";
      buttons = ["Prefer video A", "Prefer video B", "Skip"];
    }
    buttons.forEach(function (label) {
      var b = document.createElement("button"); b.type = "button"; b.textContent = label;
      b.setAttribute("aria-label", label); box.appendChild(b);
      b.addEventListener("click", function () { d.remove(); });
    });
    d.addEventListener("click", function (ev) {
      var b = ev.target.closest("button");
      simEvent("post", "click", "dialog", { trusted: ev.isTrusted, dialog: kind, label: b ? b.textContent : "" });
    }, true);
    document.body.appendChild(d);
    setTimeout(function () { d.remove(); }, ms);
    return d;
  }

  // ---- generation options: "Video Options" opens a menu of radio items; the values go into
  // the request at responseMetadata.modelConfigOverride.modelMap.videoGenModelConfig.
  var options = {};
  for (var ok in CFG.options) options[ok] = CFG.options[ok];
  var optBtn = document.querySelector('button[aria-label="Video Options"]');
  var OPT_LABELS = { videoLength: "Video length", resolutionName: "Resolution", aspectRatio: "Aspect ratio", mode: "Mode" };
  var menu = document.createElement("div");
  menu.setAttribute("role", "menu"); menu.setAttribute("aria-label", "Video options"); menu.hidden = true;
  menu.className = "options-menu";
  Object.keys(CFG.optionChoices).forEach(function (name) {
    var g = document.createElement("div");
    g.setAttribute("role", "group"); g.setAttribute("aria-label", OPT_LABELS[name] || name); g.setAttribute("data-option", name);
    var t = document.createElement("span"); t.textContent = OPT_LABELS[name] || name; g.appendChild(t);
    CFG.optionChoices[name].forEach(function (val) {
      var b = document.createElement("button"); b.type = "button";
      b.setAttribute("role", "menuitemradio"); b.setAttribute("data-option", name); b.setAttribute("data-value", String(val));
      b.textContent = name === "videoLength" ? val + "s" : String(val);
      b.addEventListener("click", function () { setOption(name, val); });
      g.appendChild(b);
    });
    menu.appendChild(g);
  });
  document.querySelector(".composer").appendChild(menu);
  function paintOptions() {
    var items = menu.querySelectorAll("[role=menuitemradio]");
    for (var i = 0; i < items.length; i++) {
      var it = items[i];
      it.setAttribute("aria-checked", String(String(options[it.getAttribute("data-option")]) === it.getAttribute("data-value")));
    }
  }
  function setOption(name, val) {
    var choices = CFG.optionChoices[name] || [];
    for (var i = 0; i < choices.length; i++) if (String(choices[i]) === String(val)) { options[name] = choices[i]; break; }
    paintOptions();
  }
  optBtn.addEventListener("click", function () { menu.hidden = !menu.hidden; optBtn.setAttribute("aria-expanded", String(!menu.hidden)); });
  paintOptions();

  // Another image post in-page (pushState): the source image, its video and mediaId change.
  var switching = 0;
  async function showPost(postId) {
    var n = ++switching, info;
    try { info = await (await fetch("/__sim/post/" + postId)).json(); } catch (e) { return; }
    if (n !== switching || info.mediaId === mediaId) return;
    mediaId = info.mediaId;
    article.setAttribute("data-post-id", info.postId);
    document.querySelector("img.source").src = "/imagine-public/images/" + mediaId + ".jpg";
    clearProgress();
    stage.textContent = "";
    if (info.video) showVideo(info.video.videoUrl, info.video.videoId);
    hasVideo = !!info.video;
    render();
  }

  function storeEntry(entry) {
    var s = null;
    try { s = JSON.parse(sessionStorage.getItem("useMediaStore")); } catch (e) { s = null; }
    if (!s || typeof s !== "object" || !s.state) s = { version: 1, state: {} };
    var m = s.state.videoByMediaId || (s.state.videoByMediaId = {});
    (m[mediaId] = m[mediaId] || []).push(entry);
    sessionStorage.setItem("useMediaStore", JSON.stringify(s));
  }

  function onProgress(v) {
    var p = Number(v.progress) || 0;
    lastProgress = p; progressCount++;
    optDiv.textContent = p + "%";
    if (!overlay) return;
    if (progressCount % 4 === 3 && p > 5) {
      // flicker: the overlay briefly shows a lower value
      overlay.textContent = "Generating " + Math.max(0, p - 12) + "%";
      var o = overlay;
      setTimeout(function () { if (o.isConnected) o.textContent = "Generating " + lastProgress + "%"; }, 40);
    } else {
      overlay.textContent = "Generating " + p + "%";
    }
  }

  function onModerated(v) {
    removeLoading(); clearProgress();
    stage.textContent = "";
    stage.appendChild(img("Moderated"));
    toast(K.moderatedText, { moderation: true });
    storeEntry({ videoId: v.videoId, progress: v.progress, moderated: true });
  }

  function onSuccess(v) {
    removeLoading(); clearProgress();
    showVideo(v.videoUrl, v.videoId);
    hasVideo = true;
    render();
    var entry = { videoId: v.videoId, progress: 100, moderated: false };
    if (v.videoUrl && urlIn("store")) {
      entry.mediaUrl = new URL(v.videoUrl, location.href).href; entry.videoUrl = v.videoUrl;
    }
    storeEntry(entry);
    setTimeout(function () { history.pushState({}, "", "/imagine/post/" + v.videoPostId); }, 300);
  }

  function handle(obj) {
    var r = (obj && obj.result) || {};
    var v = (r.response || {}).streamingVideoGenerationResponse;
    if (!v) return false;
    if (v.moderated) { onModerated(v); return true; }
    if (Number(v.progress) >= 100) { onSuccess(v); return true; }
    onProgress(v);
    return false;
  }

  // Objects by balanced braces (strings and escapes respected), not by lines.
  function takeObjects(buf, out) {
    var depth = 0, inStr = false, esc = false, start = -1, consumed = 0;
    for (var i = 0; i < buf.length; i++) {
      var c = buf[i];
      if (inStr) {
        if (esc) esc = false; else if (c === "\\") esc = true; else if (c === '"') inStr = false;
        continue;
      }
      if (c === '"') { inStr = true; continue; }
      if (c === "{") { if (depth === 0) start = i; depth++; }
      else if (c === "}") {
        depth--;
        if (depth === 0) { out.push(buf.slice(start, i + 1)); consumed = i + 1; }
      }
    }
    return buf.slice(consumed);
  }

  async function generate(trusted, viaRedo) {
    generating = true;
    if (viaRedo && K.redoResets) {        // the reported bug: Redo falls back to defaults
      for (var rk in K.redoResets) setOption(rk, K.redoResets[rk]);
    }
    startUI();
    var resp, after = null;
    var config = { parentPostId: mediaId };
    for (var name in options) config[name] = options[name];
    try {
      resp = await fetch("/rest/app-chat/conversations/new", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ message: promptState, parentPostId: mediaId, trusted: trusted,
                               modelName: "imagine-video",
                               responseMetadata: { modelConfigOverride: { modelMap: { videoGenModelConfig: config } } } })
      });
    } catch (e) {
      removeLoading(); clearProgress(); generating = false;
      return;
    }
    try { after = JSON.parse(resp.headers.get("X-Sim-After") || "null"); } catch (e) { after = null; }
    if (resp.status === 429) {
      removeLoading(); clearProgress();
      toast(K.rateText);
      generating = false;
      afterGeneration(after);
      return;
    }
    if (!resp.ok || !resp.body) {
      removeLoading(); clearProgress(); generating = false;
      return;
    }
    var reader = resp.body.getReader();
    var dec = new TextDecoder("utf-8");
    var buf = "";
    try {
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) break;
        buf += dec.decode(chunk.value, { stream: true });
        var objs = [];
        buf = takeObjects(buf, objs);
        for (var k = 0; k < objs.length; k++) {
          var obj;
          try { obj = JSON.parse(objs[k]); } catch (e) { continue; }
          handle(obj);
        }
      }
    } catch (e) { /* stream broken: keep what is shown */ }
    // A stream that ends without completion or moderation leaves the last progress shown.
    generating = false;
    afterGeneration(after);
  }

  genBtn.addEventListener("mouseup", function () {
    var ms = Number(K.mouseupHangMs) || 0;   // a page busy in its own handler
    if (ms > 0) { var end = performance.now() + ms; while (performance.now() < end) { /* busy */ } }
  });
  genBtn.addEventListener("click", function (ev) {
    render();                     // re-render writes the React-like state back into the editor
    simEvent("post", "click", "generate", { trusted: ev.isTrusted, generating: generating,
                                            at: performance.timeOrigin + performance.now() });  // when the page got it
    if (generating && !K.busyClicks) return;
    generate(ev.isTrusted, genBtn.getAttribute("aria-label") === L.redo);
  });

  // ---- in-page routes (pushState): a post view and a same-origin non-post view
  function route(path) {
    if (/^\/settings(\/|$)/.test(path)) {
      if (postView.isConnected) postView.remove();
      if (otherView) otherView.remove();
      otherView = draftView("settings");
      mainEl.appendChild(otherView);
    } else {
      if (otherView) { otherView.remove(); otherView = null; }
      if (!postView.isConnected) mainEl.appendChild(postView);
      var m = /^\/imagine\/post\/([A-Za-z0-9-]+)\/?$/.exec(path);
      if (m) showPost(m[1].toLowerCase());
    }
  }
  function go(path) { history.pushState({}, "", path); route(path); }
  window.addEventListener("popstate", function () { route(location.pathname); });
  document.addEventListener("click", function (ev) {
    var a = ev.target.closest && ev.target.closest("a[data-spa]");
    if (!a) return;
    ev.preventDefault();
    go(a.getAttribute("href"));
  });

  // ---- the live channel: SimSite.set_knobs / show_toast / cover_button / push_route
  var live = false;
  try {
    var es = new EventSource("/__sim/live");
    es.onopen = function () { live = true; };
    es.onmessage = function (m) {
      var c; try { c = JSON.parse(m.data); } catch (e) { return; }
      if (c.op === "knobs") { for (var k in c.knobs) K[k] = c.knobs[k]; }
      else if (c.op === "toast") toast(c.text, { ms: c.ms, moderation: !!c.moderation, force: true });
      else if (c.op === "cover") coverToast(c.ms, c.text);
      else if (c.op === "route") go(c.path);
      else if (c.op === "dialog") showDialog(c.kind, c.ms);
      else if (c.op === "navigate") location.href = c.url;
    };
  } catch (e) {}

  if (CFG.video) showVideo(CFG.video.videoUrl, CFG.video.videoId);
  render();
  if (CFG.dialog) showDialog(CFG.dialog.kind, CFG.dialog.ms);
  window.__sim = { get promptState() { return promptState; }, get generating() { return generating; },
                   get mediaId() { return mediaId; }, get live() { return live; }, knobs: K,
                   toast: toast, coverToast: coverToast, go: go, showDialog: showDialog,
                   get options() { return JSON.parse(JSON.stringify(options)); }, setOption: setOption };
})();
"""


def _script_json(obj) -> str:
    return json.dumps(obj, ensure_ascii=False).replace("</", "<\\/")


def _draft_cfg(*, editor: str, locale: str, image: str | None = None) -> dict:
    labels = LABELS.get(locale, LABELS["en"])
    return {
        "draft": FOREIGN_DRAFT,
        "editor": editor,
        "image": image,
        "labels": {"prompt": labels["prompt"], "make": labels["make"]},
        "titles": {"settings": "Account settings", "foreign": "Another site"},
    }


def _draft_scripts(cfg: dict) -> str:
    return f"""<script type="application/json" id="sim-draft">{_script_json(cfg)}</script>
<script>{DRAFT_JS}</script>"""


def post_page(
    *,
    post_id: str,
    media_id: str,
    editor: str,
    locale: str,
    toast_ms: int,
    video: dict | None,
    knobs: dict | None = None,
    image_posts: dict | None = None,
    dialog: dict | None = None,
    options: dict | None = None,
    option_choices: dict | None = None,
    markup: str = "grok",
    video_url_in: tuple[str, ...] = ("stream", "postList", "dom", "store"),
) -> str:
    labels = LABELS.get(locale, LABELS["en"])
    if markup == "changed":
        labels = {**labels, **CHANGED_LABELS}
    knobs = dict(knobs or {})
    knobs.setdefault("moderatedText", MODERATED_TEXT)
    knobs.setdefault("rateText", RATE_LIMIT_TEXT)
    cfg = {
        "postId": post_id,
        "mediaId": media_id,
        "editor": editor,
        "labels": labels,
        "toastMs": toast_ms,
        "video": video,
        "gif": _GIF,
        "texts": {"moderated": MODERATED_TEXT, "rate": RATE_LIMIT_TEXT, "cover": COVER_TOAST_TEXT},
        "knobs": knobs,
        "imagePosts": image_posts or {post_id: media_id},
        "options": options or {},
        "optionChoices": option_choices or {},
        "markup": markup,
        "dialog": dialog,
        "videoUrlIn": list(video_url_in),
    }
    e = html.escape
    if editor == "prosemirror":
        cls = "editor-input" if markup == "changed" else "tiptap ProseMirror"
        editor_html = (
            f'<div class="{cls}" id="prompt-editor" contenteditable="true" role="textbox" '
            f'translate="no" aria-label="{e(labels["prompt"])}" data-placeholder="{e(labels["placeholder"])}"></div>'
        )
    else:
        editor_html = (
            f'<textarea id="prompt-editor" aria-label="{e(labels["prompt"])}" '
            f'placeholder="{e(labels["placeholder"])}" rows="2"></textarea>'
        )
    label = labels["redo"] if video else labels["make"]
    others = ""
    if image_posts and len(image_posts) > 1:  # text links only: no other imagine-public image on the page
        others = '<nav class="more-posts" aria-label="More posts">' + " ".join(
            f'<a href="/imagine/post/{e(pid)}" data-spa data-post-link="{e(pid)}">Post {i + 1}</a>'
            for i, pid in enumerate(image_posts)
        ) + "</nav>"
    if markup == "changed":
        toasts_html = '<div class="notices" role="status" aria-label="Alerts" aria-live="assertive" data-sim-toasts><ul></ul></div>'
    else:
        toasts_html = (
            '<section aria-label="Notifications alt+T" tabindex="-1" aria-live="polite" aria-relevant="additions text" '
            'aria-atomic="false" data-sim-toasts><ol></ol></section>'
        )
    return f"""<!DOCTYPE html>
<html lang="{labels['lang']}"><head><meta charset="utf-8">
<title>Grok Imagine (simulated)</title>
<style>{CSS}</style></head>
<body>
<header>Grok Imagine <small>(simulated)</small> <nav><a href="/imagine">Imagine</a> <a href="/settings/account" data-spa>Settings</a></nav></header>
<main>
<div id="view-post">
<article class="post" data-post-id="{e(post_id)}">
  <div class="media">
    <img class="source" alt="Source image" src="/imagine-public/images/{e(media_id)}.jpg" width="256" height="256">
    <div id="stage"></div>
  </div>
</article>
<div class="composer">
  {editor_html}
  <button type="button" aria-label="Video Options"><div></div></button>
  <button type="button" id="generate" aria-label="{e(label)}">{e(label)}</button>
</div>
{others}
</div>
</main>
{toasts_html}
{_draft_scripts(_draft_cfg(editor="prosemirror", locale=locale))}
<script type="application/json" id="sim-config">{_script_json(cfg)}</script>
<script>{JS}</script>
</body></html>
"""


def draft_page(*, view: str, editor: str = "prosemirror", locale: str = "en", image: str | None = None) -> str:
    """A page that is not a Grok post (the foreign origin's page, or /settings/... loaded in full):
    a draft composer with Grok-like labels that records every text change and click."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Not a post (simulated)</title><style>{CSS}</style></head>
<body><header>{"Another site" if view == "foreign" else "Grok Imagine <small>(simulated)</small>"}</header>
<main></main>
<section aria-label="Notifications alt+T" tabindex="-1" aria-live="polite"><ol></ol></section>
{_draft_scripts(_draft_cfg(editor=editor, locale=locale, image=image))}
<script>document.querySelector("main").appendChild(window.__simDraft.view({json.dumps(view)}));</script>
</body></html>
"""


def gallery_page(image_posts: list[dict]) -> str:
    e = html.escape
    links = "\n".join(
        f'<a href="/imagine/post/{e(p["postId"])}"><img alt="Image post" src="/imagine-public/images/{e(p["mediaId"])}.jpg"></a>'
        for p in image_posts
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Imagine (simulated)</title><style>{CSS}</style></head>
<body><header>Grok Imagine <small>(simulated)</small></header>
<main class="gallery">
{links}
</main></body></html>
"""
