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

MODERATED_TEXT = "Content Moderated. Try a different idea."
RATE_LIMIT_TEXT = "Rate limit reached. Please slow down."

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
li.toast{background:#27272a;border:1px solid #3f3f46;border-radius:8px;padding:10px 12px;margin-top:8px}
.gallery a{display:inline-block;margin:8px}
.gallery img{width:160px;height:160px;border-radius:8px;object-fit:cover}
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
  var toastList = document.querySelector('section[aria-live="polite"] > ol');
  var overlay = null;
  var lastProgress = 0;
  var progressCount = 0;

  function readEditor() {
    if (CFG.editor === "textarea") return editor.value;
    var t = editor.innerText.replace(/\u00a0/g, " ");
    if (t.charAt(t.length - 1) === "\n") t = t.slice(0, -1);
    return t;
  }
  editor.addEventListener("input", function () { promptState = readEditor(); });

  function render() {
    if (CFG.editor === "textarea") {
      if (editor.value !== promptState) editor.value = promptState;
    } else if (readEditor() !== promptState) {
      editor.textContent = promptState;
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

  function showVideo(url) {
    stage.textContent = "";
    var v = document.createElement("video");
    v.id = "sd-video"; v.src = url; v.muted = true; v.loop = true; v.playsInline = true;
    v.setAttribute("preload", "none");
    stage.appendChild(v);
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

  function toast(text) {
    var ts = String(Date.now());
    function make() {
      var li = document.createElement("li");
      li.className = "toast";
      li.setAttribute("data-sonner-toast", "");
      li.setAttribute("data-visible", "true");
      li.setAttribute("data-ts", ts);
      var d = document.createElement("div");
      d.textContent = text;
      li.appendChild(d);
      return li;
    }
    var li = make();
    toastList.appendChild(li);
    if (CFG.toastMs > 1000) {
      setTimeout(function () {        // re-render: identical new element, same data-ts
        if (li.isConnected) { var n = make(); li.replaceWith(n); li = n; }
      }, 1000);
    }
    setTimeout(function () { li.remove(); }, CFG.toastMs);
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
    toast(CFG.texts.moderated);
    storeEntry({ videoId: v.videoId, progress: v.progress, moderated: true });
  }

  function onSuccess(v) {
    removeLoading(); clearProgress();
    showVideo(v.videoUrl);
    hasVideo = true;
    render();
    storeEntry({ videoId: v.videoId, progress: 100, moderated: false,
                 mediaUrl: location.origin + v.videoUrl, videoUrl: v.videoUrl });
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

  async function generate(trusted) {
    generating = true;
    startUI();
    var resp;
    try {
      resp = await fetch("/rest/app-chat/conversations/new", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ message: promptState, parentPostId: mediaId, trusted: trusted,
                               modelName: "imagine-video" })
      });
    } catch (e) {
      removeLoading(); clearProgress(); generating = false;
      return;
    }
    if (resp.status === 429) {
      removeLoading(); clearProgress();
      toast(CFG.texts.rate);
      generating = false;
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
  }

  genBtn.addEventListener("click", function (ev) {
    render();                     // re-render writes the React-like state back into the editor
    if (generating) return;
    generate(ev.isTrusted);
  });

  if (CFG.video) showVideo(CFG.video.videoUrl);
  render();
  window.__sim = { get promptState() { return promptState; }, get generating() { return generating; },
                   mediaId: mediaId };
})();
"""


def _script_json(obj) -> str:
    return json.dumps(obj, ensure_ascii=False).replace("</", "<\\/")


def post_page(*, post_id: str, media_id: str, editor: str, locale: str, toast_ms: int, video: dict | None) -> str:
    labels = LABELS.get(locale, LABELS["en"])
    cfg = {
        "postId": post_id,
        "mediaId": media_id,
        "editor": editor,
        "labels": labels,
        "toastMs": toast_ms,
        "video": video,
        "gif": _GIF,
        "texts": {"moderated": MODERATED_TEXT, "rate": RATE_LIMIT_TEXT},
    }
    e = html.escape
    if editor == "prosemirror":
        editor_html = (
            '<div class="tiptap ProseMirror" id="prompt-editor" contenteditable="true" role="textbox" '
            f'translate="no" aria-label="{e(labels["prompt"])}" data-placeholder="{e(labels["placeholder"])}"></div>'
        )
    else:
        editor_html = (
            f'<textarea id="prompt-editor" aria-label="{e(labels["prompt"])}" '
            f'placeholder="{e(labels["placeholder"])}" rows="2"></textarea>'
        )
    label = labels["redo"] if video else labels["make"]
    return f"""<!DOCTYPE html>
<html lang="{labels['lang']}"><head><meta charset="utf-8">
<title>Grok Imagine (simulated)</title>
<style>{CSS}</style></head>
<body>
<header>Grok Imagine <small>(simulated)</small></header>
<main>
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
</main>
<section aria-label="Notifications alt+T" tabindex="-1" aria-live="polite" aria-relevant="additions text" aria-atomic="false"><ol></ol></section>
<script type="application/json" id="sim-config">{_script_json(cfg)}</script>
<script>{JS}</script>
</body></html>
"""


def gallery_page(*, post_id: str, media_id: str) -> str:
    e = html.escape
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Imagine (simulated)</title><style>{CSS}</style></head>
<body><header>Grok Imagine <small>(simulated)</small></header>
<main class="gallery">
<a href="/imagine/post/{e(post_id)}"><img alt="Image post" src="/imagine-public/images/{e(media_id)}.jpg"></a>
</main></body></html>
"""
