"""A simulated Grok Imagine site (stdlib only) that reproduces the real page's signals.

The signals follow the brief's grok-signals.md; grok_tui/sim/script.py has the outcome grammar.
"""

from __future__ import annotations

import base64
import http.cookies
import json
import queue
import re
import secrets
import select
import socket
import sys
import threading
import time
import uuid
from collections import deque
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .media import sha256_hex, video_file
from .page import MODERATED_TEXT, RATE_LIMIT_TEXT, draft_page, gallery_page, post_page
from .script import DIALOG_KINDS, Outcome, parse_script, parse_token

GENERATE_PATH = "/rest/app-chat/conversations/new"
POST_LIST_PATH = "/rest/media/post/list"

JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/4gHYSUNDX1BST0ZJTEUAAQEAAAHIAAAAAAQwAABtbnRyUkdCIFhZWiAH4AABAAEAAAAAAABhY3Nw"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQAA9tYAAQAAAADTLQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAlkZXNjAAAA8AAAACRyWFlaAAABFAAAABRnWFlaAAABKAAAABRiWFlaAAABPAAAABR3dHB0AAABUAAAABRyVFJD"
    "AAABZAAAAChnVFJDAAABZAAAAChiVFJDAAABZAAAAChjcHJ0AAABjAAAADxtbHVjAAAAAAAAAAEAAAAMZW5VUwAAAAgAAAAcAHMAUgBH"
    "AEJYWVogAAAAAAAAb6IAADj1AAADkFhZWiAAAAAAAABimQAAt4UAABjaWFlaIAAAAAAAACSgAAAPhAAAts9YWVogAAAAAAAA9tYAAQAA"
    "AADTLXBhcmEAAAAAAAQAAAACZmYAAPKnAAANWQAAE9AAAApbAAAAAAAAAABtbHVjAAAAAAAAAAEAAAAMZW5VUwAAACAAAAAcAEcAbwBv"
    "AGcAbABlACAASQBuAGMALgAgADIAMAAxADb/2wBDAAoHBwgHBgoICAgLCgoLDhgQDg0NDh0VFhEYIx8lJCIfIiEmKzcvJik0KSEiMEEx"
    "NDk7Pj4+JS5ESUM8SDc9Pjv/2wBDAQoLCw4NDhwQEBw7KCIoOzs7Ozs7Ozs7Ozs7Ozs7Ozs7Ozs7Ozs7Ozs7Ozs7Ozs7Ozs7Ozs7Ozs7"
    "Ozs7Ozs7Ozv/wAARCAAQABADASIAAhEBAxEB/8QAFgABAQEAAAAAAAAAAAAAAAAABAAD/8QAFRABAQAAAAAAAAAAAAAAAAAAAwD/xAAV"
    "AQEBAAAAAAAAAAAAAAAAAAABBf/EABYRAAMAAAAAAAAAAAAAAAAAAAADBP/aAAwDAQACEQMRAD8AyIphFRFMIossLKEH/9k="
)
SESSION_COOKIE = "sim_session"  # set HttpOnly by every page of the site; the assets origin requires it

_ID = r"[A-Za-z0-9-]+"
_POST_RE = re.compile(rf"^/imagine/post/({_ID})/?$")
_IMAGE_RE = re.compile(rf"^/imagine-public/images/({_ID})\.(?:jpg|jpeg|png|webp)$")
_VIDEO_RE = re.compile(rf"^/media/videos/({_ID})\.mp4$")

_POST_INFO_RE = re.compile(rf"^/__sim/post/({_ID})$")
_ASSET_RE = re.compile(rf"^/users/({_ID})/generated/({_ID})/generated_video\.mp4$")
_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
_SETTINGS_RE = re.compile(r"^/settings(?:/[A-Za-z0-9_-]*)*/?$")
EVENT_PATH = "/__sim/event"
LIVE_PATH = "/__sim/live"

# Page knobs: SimSite keyword -> the page's name for it (SimSite.set_knobs changes them live).
PAGE_KNOBS = {
    "cover_toast_ms": "coverToastMs",
    "mouseup_hang_ms": "mouseupHangMs",
    "toast_readd_ms": "toastReaddMs",
    "moderated_text": "moderatedText",
    "rate_text": "rateText",
    "redo_resets": "redoResets",
    "no_toasts": "noToasts",
    "busy_clicks": "busyClicks",
}

# Generation options (the composer's "Video Options" menu) and their choices; they travel in the
# request body at responseMetadata.modelConfigOverride.modelMap.videoGenModelConfig.
OPTION_CHOICES: dict[str, tuple] = {
    "videoLength": (6, 10),
    "resolutionName": ("480p", "720p"),
    "aspectRatio": ("2:3", "3:2", "1:1", "9:16", "16:9"),
    "mode": ("normal", "fun", "custom"),
}
DEFAULT_OPTIONS = {"videoLength": 6, "resolutionName": "480p", "aspectRatio": "2:3", "mode": "normal"}

# Where a finished video's URL shows (SimSite(video_url_in=...) keeps it to some of them).
VIDEO_URL_SOURCES = ("stream", "postList", "dom", "store")


def _check_options(options: dict) -> dict:
    for k, v in options.items():
        if k not in OPTION_CHOICES:
            raise ValueError(f"unknown video option {k!r} (known: {', '.join(OPTION_CHOICES)})")
        if v not in OPTION_CHOICES[k]:
            raise ValueError(f"video option {k} must be one of {OPTION_CHOICES[k]}, not {v!r}")
    return dict(options)

_QUIET_ERRORS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError, socket.timeout)


def new_id() -> str:
    return str(uuid.uuid4())


def iter_json_objects(text: str):
    """Yield each top-level {...} substring of `text`, by balanced braces (strings/escapes respected)."""
    depth, in_str, esc, start = 0, False, False, -1
    for i, c in enumerate(text):
        if in_str:
            if esc:
                esc = False
            elif c == "\\":
                esc = True
            elif c == '"':
                in_str = False
            continue
        if c == '"':
            in_str = True
        elif c == "{":
            if depth == 0:
                start = i
            depth += 1
        elif c == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                yield text[start : i + 1]


def _peer_closed(sock) -> bool:
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


def split_mode(index: int) -> str:
    """How the stream writes object number `index`: deterministic so every request has all three.

    "newline": object + "\\n" in one chunk; "split": first part, flush, ~20 ms, rest + "\\n"
    (cut inside the first multi-byte UTF-8 character if there is one); "joined": object with no
    separator (the next object follows it back to back).
    """
    return ("newline", "split", "joined")[index % 3]


def split_point(data: bytes) -> int:
    for i, b in enumerate(data):
        if b >= 0x80:
            return i + 1  # inside a multi-byte character
    return max(1, len(data) // 2)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "grok-sim/1.0"
    timeout = 60
    site: "SimSite"  # set on the per-site subclass

    def setup(self):
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, format, *args):  # noqa: A002 - silence the default stderr log
        pass

    def handle(self):
        try:
            super().handle()
        except _QUIET_ERRORS:
            self.close_connection = True
        except OSError:
            self.close_connection = True

    # ---- helpers -------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, ctype: str, headers: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj, status: int = 200, headers: dict | None = None):
        body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8", headers)

    def _html(self, text: str):
        cookie = f"{SESSION_COOKIE}={self.site.session_cookie}; Path=/; HttpOnly; SameSite=Lax"
        self._send(200, text.encode("utf-8"), "text/html; charset=utf-8", {"Set-Cookie": cookie})

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _origin(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def _record_event(self, raw: bytes, view: str | None = None) -> None:
        try:
            body = json.loads(raw.decode("utf-8") or "{}")
        except ValueError:
            body = None
        if isinstance(body, dict):
            self.site._record_event(body, origin=self._origin(), view=view)
        self._send(204, b"", "text/plain")

    def _serve_live(self) -> None:
        """Server-sent events: the commands SimSite.set_knobs / show_toast / cover_button / push_route send."""
        site = self.site
        q: queue.Queue = queue.Queue()
        site._live_add(q)
        self.close_connection = True
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(b"retry: 300\n\n")
            self.wfile.flush()
            quiet = 0.0
            while not site._stopping.is_set():
                try:
                    msg = q.get(timeout=0.25)
                except queue.Empty:
                    if _peer_closed(self.connection):  # the page went away: stop counting it
                        return
                    quiet += 0.25
                    if quiet < 15.0:  # rare keep-alives: each one is a network event for a watcher
                        continue
                    quiet = 0.0
                    self.wfile.write(b": keep-alive\n\n")
                else:
                    self.wfile.write(b"data: " + json.dumps(msg, ensure_ascii=True).encode() + b"\n\n")
                self.wfile.flush()
        finally:
            site._live_remove(q)

    # ---- routes ----------------------------------------------------------------------------
    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        site = self.site
        path = urlsplit(self.path).path
        if path == "/":
            self._send(302, b"", "text/plain", {"Location": "/imagine"})
        elif path in ("/imagine", "/imagine/"):
            self._html(gallery_page(site.image_posts))
        elif m := _POST_RE.match(path):
            self._html(site._render_post(m.group(1)))
        elif _SETTINGS_RE.match(path):
            self._html(draft_page(view="settings", locale=site.locale))
        elif path == LIVE_PATH:
            self._serve_live()
        elif _IMAGE_RE.match(path):
            self._send(200, JPEG, "image/jpeg")
        elif m := _VIDEO_RE.match(path):  # the old same-origin video route (no cookie needed)
            self._send(200, video_file(m.group(1).lower(), site.video_size), "video/mp4")
        elif path == POST_LIST_PATH:
            self._json({"posts": site._served_posts()})
        elif m := _POST_INFO_RE.match(path):
            self._json(site._post_info(m.group(1)))
        elif path == "/__sim/requests":
            self._json(site.requests)
        elif path == "/__sim/emitted":
            self._json(site.emitted)
        elif path == "/__sim/events":
            self._json(site.page_events)
        elif path == "/favicon.ico":
            self._send(204, b"", "image/x-icon")
        else:
            self._send(404, b"not found", "text/plain")

    def do_POST(self):
        site = self.site
        path = urlsplit(self.path).path
        raw = self._body()
        if path == GENERATE_PATH:
            try:
                body = json.loads(raw.decode("utf-8") or "{}")
                if not isinstance(body, dict):
                    raise ValueError
            except ValueError:
                self._json({"error": "bad request"}, 400)
                return
            site._generate(self, body)
        elif path == "/__sim/script":
            try:
                script = json.loads(raw.decode("utf-8")) if raw.strip()[:1] in (b"[", b'"') else raw.decode("utf-8")
                site.set_script(script)
            except ValueError as exc:
                self._json({"error": str(exc)}, 400)
                return
            self._json({"ok": True, "remaining": site.remaining_script})
        elif path == EVENT_PATH:
            self._record_event(raw)
        else:
            self._send(404, b"not found", "text/plain")

    # ---- streaming -------------------------------------------------------------------------
    def start_chunked(self, headers: dict | None = None):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.flush()

    def write_chunk(self, data: bytes):
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def end_chunked(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _ForeignHandler(_Handler):
    """Another origin (another loopback port): a page that is not Grok's, with Grok-like labels.

    Every path serves it (so /imagine/post/<id> there looks like a post route on the wrong origin);
    `?editor=textarea` gives a textarea instead of the contenteditable, `?image=<id>` shows
    /imagine-public/images/<id>.jpg on it (same image id as a post, wrong origin).
    """

    def _html(self, text: str):  # not the site: it sets no session cookie
        self._send(200, text.encode("utf-8"), "text/html; charset=utf-8")

    def do_GET(self):
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if _IMAGE_RE.match(parts.path):
            self._send(200, JPEG, "image/jpeg")
        elif parts.path == "/favicon.ico":
            self._send(204, b"", "image/x-icon")
        else:
            editor = "textarea" if query.get("editor", [""])[0] == "textarea" else "prosemirror"
            image = query.get("image", [None])[0]
            image = image if image and re.fullmatch(_ID, image) else None
            self._html(draft_page(view="foreign", editor=editor, locale=self.site.locale, image=image))

    def do_POST(self):
        raw = self._body()
        if urlsplit(self.path).path == EVENT_PATH:
            self._record_event(raw, view="foreign")
        else:
            self._send(404, b"not found", "text/plain")


class _AssetsHandler(_Handler):
    """The video host (like assets.grok.com): another origin (another loopback port).

    GET /users/<user>/generated/<videoId>/generated_video.mp4 serves that video's MP4 only
    with the session cookie (403 without; 404 for an id the site did not complete), with
    CORS for the page's origin with credentials, and byte ranges. The first
    `truncate_videos` requests get a body shorter than their Content-Length, then a close.
    """

    def _cors(self) -> dict:
        origin = self.headers.get("Origin")
        if origin and origin == self.site.base_url:
            return {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Credentials": "true",
                "Access-Control-Expose-Headers": "Content-Length, Content-Range, Accept-Ranges",
                "Vary": "Origin",
            }
        return {"Vary": "Origin"}

    def do_OPTIONS(self):
        headers = self._cors()
        if "Access-Control-Allow-Origin" in headers:
            headers.update({"Access-Control-Allow-Methods": "GET, HEAD", "Access-Control-Allow-Headers": "Range",
                            "Access-Control-Max-Age": "600"})
            self._send(204, b"", "text/plain", headers)
        else:
            self._send(403, b"forbidden", "text/plain", headers)

    def do_GET(self):
        site = self.site
        path = urlsplit(self.path).path
        m = _ASSET_RE.match(path)
        video_id = m.group(2).lower() if m else None
        record = {"t": time.time(), "method": self.command, "path": path, "videoId": video_id,
                  "origin": self.headers.get("Origin"), "range": self.headers.get("Range")}
        jar = http.cookies.SimpleCookie()
        try:
            jar.load(self.headers.get("Cookie") or "")
        except http.cookies.CookieError:
            pass
        record["cookie"] = SESSION_COOKIE in jar and jar[SESSION_COOKIE].value == site.session_cookie
        headers = self._cors()
        data = site._completed_video(video_id) if m and m.group(1) == site.user_id else None
        if data is None:
            record["status"] = 404
            site._record_asset(record)
            self._send(404, b"not found", "text/plain", headers)
            return
        if not record["cookie"]:
            record["status"] = 403
            site._record_asset(record)
            self._send(403, b"forbidden: no session cookie", "text/plain", headers)
            return
        status, total, body = 200, len(data), data
        headers["Accept-Ranges"] = "bytes"
        rng = _RANGE_RE.match((self.headers.get("Range") or "").strip())
        if rng and (rng.group(1) or rng.group(2)):
            if rng.group(1):
                start = int(rng.group(1))
                end = min(int(rng.group(2)), total - 1) if rng.group(2) else total - 1
            else:
                start, end = max(0, total - int(rng.group(2))), total - 1
            if start >= total or start > end:
                record["status"] = 416
                site._record_asset(record)
                self._send(416, b"", "text/plain", {**headers, "Content-Range": f"bytes */{total}"})
                return
            status, body = 206, data[start : end + 1]
            headers["Content-Range"] = f"bytes {start}-{end}/{total}"
        truncate = self.command == "GET" and site._take_truncation()
        record.update(status=status, truncated=truncate, bytes=len(body) // 2 if truncate else len(body))
        site._record_asset(record)
        if not truncate:
            self._send(status, body, "video/mp4", headers)
            return
        self.send_response(status)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True

    def do_POST(self):
        self._send(405, b"", "text/plain")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def handle_error(self, request, client_address):  # no tracebacks on stderr
        pass


class SimSite:
    """The simulated Grok Imagine site. `start()` serves it from daemon threads.

    Outcomes: `script` (see script.py) is consumed one token per generation request, then
    `default`. Timing: `step_ms` between streamed objects, `steps` per full progress run,
    `toast_ms` a toast's life.

    Page knobs (all off by default; `set_knobs(**kw)` changes them live on open pages and
    for pages loaded later):
    - `cover_toast_ms=N`: after every generation ends (success, moderation, rate limit,
      silent end) a toast `li.toast[data-sim-cover]` (text COVER_TOAST_TEXT) sits over the
      generate button's centre for N ms, taking clicks on it (recorded as target
      "cover-toast"). `cover_button(ms)` shows one now.
    - `mouseup_hang_ms=N`: the generate button's own `mouseup` handler busy-loops N ms, so
      the click handler (and the generation request) runs N ms after the mouse release.
    - `toast_readd_ms=N` or `(lo, hi)`: a moderation toast is removed and replaced by a new
      element without `data-ts` (Grok's list re-rendering) N ms (uniform in lo..hi) after it
      showed; the new one lives `toast_ms`. Replaces the default same-`data-ts` re-render.
    - `moderated_text`, `rate_text`: the toasts' texts (e.g. CONTROL_TOAST_TEXT, which has
      newlines and ESC / BEL sequences). `show_toast(text)` shows any toast now.

    Pages that are not the session's post (each records to `page_events`: every text
    change of its editor and every press / click of its button, nothing else happens):
    - `foreign_url(path)`: a page on ANOTHER origin (a second server on another loopback
      port) with a contenteditable holding FOREIGN_DRAFT and `button[aria-label="Make video"]`.
    - `/settings/account` on this origin: the same elements; reached in full
      (`url("/settings/account")`) or in-page by pushState from the post page (its header
      link, `window.__sim.go(path)`, or `push_route(path)`). `navigate(url)` makes the open
      post pages load any URL in full (e.g. the foreign page).

    Several image posts: `image_posts=N` (N posts with new ids; the first is `post_id` /
    `media_id`) or a list of post ids / `(post_id, media_id)` pairs (the first becomes
    `post_id` / `media_id`). `image_posts` lists them ({"postId", "mediaId", "url"}). The
    gallery `/imagine` links them all; with more than one, the post page has text links
    `nav.more-posts a[data-post-link]` that switch post in-page (pushState: source image,
    video and the page's mediaId change; `push_route("/imagine/post/<id>")` does the same);
    `post_url(id)` loads one in full. Unknown post ids still render the first image.

    Dialogs over the generate button (`div[role="dialog"][data-sim-dialog="chooser"|"banner"]`,
    clicks recorded as target "dialog"; its buttons dismiss it): a script token suffix
    `+chooser:S` / `+banner:S` shows one for S s when that attempt ends (e.g. `ok+chooser:3`);
    `dialog_on_load=("chooser", S)` on every post page load; `show_dialog(kind, seconds,
    when="now" | "load" | "next_video", post_id=None)` now, or once at the next load / after
    the next successful video.

    Videos live on ANOTHER origin, the assets server (`assets_base_url`, another loopback
    port, like assets.grok.com): `video_url(video_id)` =
    `<assets>/users/<user_id>/generated/<videoId>/generated_video.mp4`, used by the stream's
    `videoUrl`, /rest/media/post/list, the store's `mediaUrl` / `videoUrl` and
    `article video[src]`. Each is a real playable MP4 (media.TINY_MP4 plus a `free` box with
    the id), padded to `video_size` bytes if given; `video_file(id)` / `video_sha256(id)`
    are exactly what is served. Every page of the site sets the HttpOnly cookie
    `sim_session=<session_cookie>` (cookies ignore ports, so it reaches the assets port);
    without it the assets server answers 403, for an unknown id 404; CORS allows the page's
    origin with credentials; byte ranges work. `truncate_videos=K`: the first K video GETs
    send half the body under the full Content-Length, then close. `asset_requests` logs
    every request (cookie: whether it came, never its value).

    The page reads `GET /rest/media/post/list` after every generation (`post_list_reads` counts
    the reads); a player the stream gave no URL takes the list's. `video_url_in` (default all of
    VIDEO_URL_SOURCES) keeps a finished video's URL to some of its places: "stream" (the completed
    object's `videoUrl`), "postList" (the list's `videoUrl`, else null), "dom" (`video#sd-video`'s
    src; without it the player has none) and "store" (the entry's `mediaUrl` / `videoUrl`, when the
    stream named it). E.g. `video_url_in=("postList",)`: only the post list tells where the file is.

    Generation options: `button[aria-label="Video Options"]` (its first `div` still shows
    progress) opens `div[role="menu"][aria-label="Video options"]` with
    `button[role="menuitemradio"][data-option][data-value][aria-checked]` for videoLength
    (6, 10), resolutionName (480p, 720p), aspectRatio, mode (OPTION_CHOICES); initial values
    `video_options={...}` over DEFAULT_OPTIONS. The request body carries them at
    `responseMetadata.modelConfigOverride.modelMap.videoGenModelConfig` next to
    `parentPostId`; `requests[i]["options"]` has them. Page knob `redo_resets={"videoLength": 6}`:
    a click on Redo first resets those options (the reported bug), menu included.

    When Grok changes its page (issue 16): `markup="changed"` renames the editor's
    aria-label to "Describe your video" (placeholder "What should happen?"; the ProseMirror
    variant loses its `tiptap ProseMirror` classes but stays contenteditable), the generate
    button to "Generate video" / "Regenerate" (CHANGED_LABELS), and puts toasts in
    `div.notices[role="status"][aria-label="Alerts"] > ul > li.notice[data-state="open"] > p`
    instead of the `section[aria-label*="Notifications"]` list. Page knob `no_toasts=True`:
    moderation and rate-limit toasts never show (moderations are still in the stream, the
    post list and the store); `show_toast()` still shows one.

    Page knob `busy_clicks=True`: a click on the generate button while a generation runs
    starts another one (the page does not hold the button; each renders its own outcome).
    `response_delay_ms=N` (an attribute, may be changed live): the server answers a
    generation request N ms after it arrived (its time to first byte; the request is
    recorded at once).

    The ProseMirror editor (`editor="prosemirror"`) holds a document of paragraphs, one
    `<p>` per line (an empty line is an empty paragraph), edited through `beforeinput`,
    and its text is the paragraphs joined by "\\n": the request's `message` is exactly that.

    Records: `requests` (generation requests), `emitted` (stream objects), `posts`
    (the post list), `page_events` (see above; each has view, kind, target, path, origin, t; a click on the post's
    generate button also `at`, the page's own clock at the click, in ms; GET /__sim/events).
    """

    def __init__(
        self,
        script: list[str] | str = (),
        *,
        default: str = "ok",
        editor: str = "textarea",
        step_ms: int = 100,
        steps: int = 10,
        toast_ms: int = 4000,
        locale: str = "en",
        host: str = "127.0.0.1",
        port: int = 0,
        post_id: str | None = None,
        media_id: str | None = None,
        cover_toast_ms: int = 0,
        mouseup_hang_ms: int = 0,
        toast_readd_ms: int | tuple[int, int] | None = None,
        moderated_text: str = MODERATED_TEXT,
        rate_text: str = RATE_LIMIT_TEXT,
        image_posts: int | list = 1,
        dialog_on_load: tuple[str, float] | None = None,
        video_size: int = 0,
        truncate_videos: int = 0,
        video_options: dict | None = None,
        redo_resets: dict | None = None,
        markup: str = "grok",
        no_toasts: bool = False,
        video_url_in: tuple[str, ...] | list[str] = VIDEO_URL_SOURCES,
        busy_clicks: bool = False,
        response_delay_ms: int = 0,
    ):
        if markup not in ("grok", "changed"):
            raise ValueError(f"markup must be 'grok' or 'changed', not {markup!r}")
        if editor not in ("textarea", "prosemirror"):
            raise ValueError(f"editor must be 'textarea' or 'prosemirror', not {editor!r}")
        self._lock = threading.Lock()
        self._script: deque[Outcome] = deque(parse_script(script))
        self.default = parse_token(default)
        self.editor = editor
        self.markup = markup
        self.step_ms = step_ms
        self.steps = max(1, int(steps))
        self.toast_ms = int(toast_ms)
        self.locale = locale
        self.host = host
        self.port = port
        self.foreign_port = 0
        self.assets_port = 0
        self.user_id = new_id()
        self.session_cookie = secrets.token_urlsafe(24)
        self.video_size = max(0, int(video_size))
        self._truncate_left = max(0, int(truncate_videos))
        self._assets: list[dict] = []
        self.video_options = _check_options({**DEFAULT_OPTIONS, **(video_options or {})})
        unknown = [x for x in video_url_in if x not in VIDEO_URL_SOURCES]
        if unknown:
            raise ValueError(f"video_url_in: unknown source(s) {unknown} (known: {', '.join(VIDEO_URL_SOURCES)})")
        self.video_url_in = tuple(video_url_in)
        self._post_list_reads = 0
        self.post_id = (post_id or new_id()).lower()
        self.media_id = (media_id or self.post_id).lower()
        self._image_posts = self._make_image_posts(image_posts)  # postId -> mediaId, the first is post_id
        self._dialog_on_load = _dialog_spec(dialog_on_load) if dialog_on_load else None
        self._pending_dialogs: list[dict] = []  # one-shot show_dialog(when="load" / "next_video")
        self._knobs: dict = {}
        self._set_knobs(
            cover_toast_ms=cover_toast_ms,
            mouseup_hang_ms=mouseup_hang_ms,
            toast_readd_ms=toast_readd_ms,
            moderated_text=moderated_text,
            rate_text=rate_text,
            redo_resets=redo_resets,
            no_toasts=no_toasts,
            busy_clicks=busy_clicks,
        )
        self.response_delay_ms = max(0, int(response_delay_ms))
        self._requests: list[dict] = []
        self._emitted: list[dict] = []
        self._posts: list[dict] = []
        self._events: list[dict] = []
        self._video_posts: dict[str, dict] = {}  # videoPostId -> post dict
        self._servers: list[tuple[_Server, threading.Thread]] = []
        self._live_queues: list[queue.Queue] = []
        self._live_cond = threading.Condition(self._lock)
        self._stopping = threading.Event()

    # ---- lifecycle ------------------------------------------------------------------------
    def _serve(self, handler_base: type, port: int, name: str) -> int:
        handler = type("SimHandler", (handler_base,), {"site": self})
        srv = _Server((self.host, port), handler)
        th = threading.Thread(target=srv.serve_forever, name=name, daemon=True)
        th.start()
        self._servers.append((srv, th))
        return srv.server_address[1]

    def start(self) -> "SimSite":
        if self._servers:
            return self
        self._stopping.clear()
        try:
            self.port = self._serve(_Handler, self.port, "grok-sim")
            self.foreign_port = self._serve(_ForeignHandler, 0, "grok-sim-foreign")
            self.assets_port = self._serve(_AssetsHandler, 0, "grok-sim-assets")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self._stopping.set()
        servers, self._servers = self._servers, []
        stoppers = [threading.Thread(target=srv.shutdown, daemon=True) for srv, _ in servers]
        for t in stoppers:  # in parallel: each shutdown() waits up to a poll interval
            t.start()
        for t in stoppers:
            t.join(timeout=5)
        for srv, _ in servers:
            srv.server_close()
        for _, th in servers:
            th.join(timeout=5)

    def __enter__(self) -> "SimSite":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def foreign_base_url(self) -> str:
        return f"http://{self.host}:{self.foreign_port}"

    @property
    def assets_base_url(self) -> str:
        return f"http://{self.host}:{self.assets_port}"

    def video_url(self, video_id: str) -> str:
        """Where the video `video_id` is served (the assets origin; needs the session cookie)."""
        return f"{self.assets_base_url}/users/{self.user_id}/generated/{video_id}/generated_video.mp4"

    def video_file(self, video_id: str) -> bytes:
        """The exact bytes served for `video_id` (a real MP4, unique per id, `video_size` long;
        made on each call, not kept, so many large videos cost no memory)."""
        return video_file(video_id, self.video_size)

    def video_sha256(self, video_id: str) -> str:
        return sha256_hex(self.video_file(video_id))

    @property
    def asset_requests(self) -> list[dict]:
        """Every request to the assets origin: t, method, path, videoId, origin, range, cookie
        (whether the session cookie came), status, truncated, bytes (body bytes sent)."""
        with self._lock:
            return [dict(r) for r in self._assets]

    def _record_asset(self, record: dict) -> None:
        with self._lock:
            self._assets.append(record)

    def _take_truncation(self) -> bool:
        with self._lock:
            if self._truncate_left > 0:
                self._truncate_left -= 1
                return True
            return False

    def _completed_video(self, video_id: str | None) -> bytes | None:
        with self._lock:
            known = any(p["videoId"] == video_id and not p["moderated"] for p in self._posts)
        return self.video_file(video_id) if known and video_id else None

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def post_url(self, post_id: str | None = None) -> str:
        return f"{self.base_url}/imagine/post/{post_id or self.post_id}"

    @property
    def image_posts(self) -> list[dict]:
        """The image posts: [{"postId", "mediaId", "url"}], the first is (post_id, media_id)."""
        return [{"postId": p, "mediaId": m, "url": self.post_url(p)} for p, m in self._image_posts.items()]

    def _make_image_posts(self, spec) -> dict[str, str]:
        out = {self.post_id: self.media_id}
        if isinstance(spec, int):
            if spec < 1:
                raise ValueError(f"image_posts must be at least 1, not {spec}")
            while len(out) < spec:
                pid = new_id()
                out[pid] = pid
            return out
        items = list(spec)
        if not items:
            raise ValueError("image_posts must name at least one post")
        pairs = [(it, it) if isinstance(it, str) else tuple(it) for it in items]
        for pid, mid in pairs:
            if not (re.fullmatch(_ID, str(pid)) and re.fullmatch(_ID, str(mid))):
                raise ValueError(f"bad image post {(pid, mid)!r}: ids are letters, digits and '-'")
        self.post_id, self.media_id = str(pairs[0][0]).lower(), str(pairs[0][1]).lower()
        return {str(p).lower(): str(m).lower() for p, m in pairs}

    def foreign_url(self, path: str = "/compose", *, editor: str | None = None, image: str | None = None) -> str:
        """The foreign origin's page at `path` (any path serves it), optionally with a textarea
        (`editor="textarea"`) and an `imagine-public/images/<image>.jpg` image."""
        query = "&".join(f"{k}={v}" for k, v in (("editor", editor), ("image", image)) if v)
        return f"{self.foreign_base_url}{path}" + (f"?{query}" if query else "")

    # ---- knobs and the live channel -------------------------------------------------------
    def _set_knobs(self, **kw) -> dict:
        page = {}
        for name, value in kw.items():
            if name not in PAGE_KNOBS:
                raise ValueError(f"unknown sim knob {name!r} (known: {', '.join(PAGE_KNOBS)})")
            if name == "toast_readd_ms":
                if value in (None, 0, False):
                    value = None
                else:
                    lo, hi = (value, value) if isinstance(value, (int, float)) else tuple(value)
                    if not 0 < lo <= hi:
                        raise ValueError(f"toast_readd_ms must be N > 0 or (lo, hi) with 0 < lo <= hi, not {value!r}")
                    value = [float(lo), float(hi)]
            elif name in ("no_toasts", "busy_clicks"):
                value = bool(value)
            elif name == "redo_resets":
                value = _check_options(value) if value else None
            elif name.endswith("_ms"):
                value = max(0, int(value))
            else:
                value = str(value)
            self._knobs[name] = value
            page[PAGE_KNOBS[name]] = value
        return page

    @property
    def knobs(self) -> dict:
        with self._lock:
            return dict(self._knobs)

    def _page_knobs(self) -> dict:
        with self._lock:
            return {PAGE_KNOBS[k]: v for k, v in self._knobs.items()}

    def set_knobs(self, **kw) -> int:
        """Change page knobs (the keyword names of __init__) for open pages and later loads.

        Returns how many open pages were sent the change (0 when none is open)."""
        with self._lock:
            page = self._set_knobs(**kw)
        return self._broadcast({"op": "knobs", "knobs": page}, wait=0)

    def show_toast(self, text: str, ms: int | None = None, *, moderation: bool = False, wait: float = 5.0) -> int:
        """Show a toast with `text` on the open post pages now (moderation=True: it is re-added
        as `toast_readd_ms` says). Waits up to `wait` s for a page; returns how many got it."""
        return self._broadcast({"op": "toast", "text": str(text), "ms": ms, "moderation": moderation}, wait=wait)

    def cover_button(self, ms: int, text: str | None = None, *, wait: float = 5.0) -> int:
        """Put the covering toast over the generate button of the open post pages for `ms`."""
        return self._broadcast({"op": "cover", "ms": int(ms), "text": text}, wait=wait)

    def push_route(self, path: str, *, wait: float = 5.0) -> int:
        """`history.pushState` the open post pages to `path` (e.g. "/settings/account") and
        render that view in-page, as Grok's router does."""
        return self._broadcast({"op": "route", "path": str(path)}, wait=wait)

    def navigate(self, url: str, *, wait: float = 5.0) -> int:
        """Make the open post pages load `url` in full (`location.href = url`), e.g.
        `foreign_url()`: the tab leaves the post by itself, as a page or the user would."""
        return self._broadcast({"op": "navigate", "url": str(url)}, wait=wait)

    def show_dialog(
        self, kind: str = "chooser", seconds: float = 3.0, *, when: str = "now", post_id: str | None = None,
        wait: float = 5.0,
    ) -> int:
        """A dialog over the generate button for `seconds`: kind "chooser" (Grok's "Which video
        do you prefer?", a full-page backdrop) or "banner" (an announcement over the composer).

        when="now": on the open post pages (returns how many got it); "load": on the next load
        of a post page (of `post_id` if given); "next_video": when the next successful video
        finishes. The last two are one-shot and return 0."""
        spec = _dialog_spec((kind, seconds))
        if when == "now":
            return self._broadcast({"op": "dialog", **spec}, wait=wait)
        if when not in ("load", "next_video"):
            raise ValueError(f"when must be 'now', 'load' or 'next_video', not {when!r}")
        with self._lock:
            self._pending_dialogs.append({**spec, "when": when, "postId": post_id.lower() if post_id else None})
        return 0

    def _take_dialog(self, when: str, post_id: str | None = None) -> dict | None:
        with self._lock:
            for i, d in enumerate(self._pending_dialogs):
                if d["when"] == when and (d["postId"] is None or d["postId"] == post_id):
                    del self._pending_dialogs[i]
                    return {"kind": d["kind"], "ms": d["ms"]}
        return None

    @property
    def live_pages(self) -> int:
        """How many post pages are connected to the live channel (a page left is dropped within ~0.3 s)."""
        with self._lock:
            return len(self._live_queues)

    def _broadcast(self, msg: dict, wait: float) -> int:
        deadline = time.monotonic() + wait
        with self._live_cond:
            while not self._live_queues and wait > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._live_cond.wait(left)
            listeners = list(self._live_queues)
        for q in listeners:
            q.put(msg)
        return len(listeners)

    def _live_add(self, q: queue.Queue) -> None:
        with self._live_cond:
            self._live_queues.append(q)
            self._live_cond.notify_all()

    def _live_remove(self, q: queue.Queue) -> None:
        with self._lock:
            if q in self._live_queues:
                self._live_queues.remove(q)

    # ---- script and records -----------------------------------------------------------------
    def set_script(self, script) -> None:
        outcomes = parse_script(script)
        with self._lock:
            self._script = deque(outcomes)

    @property
    def remaining_script(self) -> list[str]:
        with self._lock:
            return [o.token for o in self._script]

    @property
    def requests(self) -> list[dict]:
        with self._lock:
            return [dict(r) for r in self._requests]

    @property
    def emitted(self) -> list[dict]:
        with self._lock:
            return [dict(e) for e in self._emitted]

    @property
    def posts(self) -> list[dict]:
        with self._lock:
            return json.loads(json.dumps(self._posts))

    def _served_posts(self) -> list[dict]:
        """What GET /rest/media/post/list answers (counted): the posts, their videoUrl only if "postList" is in video_url_in."""
        posts = self.posts
        with self._lock:
            self._post_list_reads += 1
        if "postList" not in self.video_url_in:
            for post in posts:
                post["videoUrl"] = None
        return posts

    @property
    def post_list_reads(self) -> int:
        """How many times /rest/media/post/list was read (the page reads it after every generation)."""
        with self._lock:
            return self._post_list_reads

    @property
    def page_events(self) -> list[dict]:
        """What was done to the pages' own elements (see the class docstring), oldest first."""
        with self._lock:
            return [dict(e) for e in self._events]

    def _record_event(self, body: dict, *, origin: str, view: str | None) -> None:
        ev = {"t": time.time(), "origin": origin}
        for key in ("view", "kind", "target", "path", "trusted", "text", "generating", "dialog", "label", "at"):
            if key in body and isinstance(body[key], (str, bool, int, float)):
                ev[key] = body[key]
        if view is not None:
            ev["view"] = view
        with self._lock:
            self._events.append(ev)

    def _next_outcome(self) -> Outcome:
        with self._lock:
            return self._script.popleft() if self._script else self.default

    def _emit(self, kind: str, video_id, progress, server_ts: float) -> dict:
        """Record what is being streamed; the caller sets `sent` (s) once its last byte is written."""
        entry = {"t": server_ts / 1000.0, "serverTs": server_ts, "videoId": video_id, "kind": kind, "progress": progress}
        with self._lock:
            self._emitted.append(entry)
        return entry

    # ---- pages ------------------------------------------------------------------------------
    def _post_info(self, post_id: str) -> dict:
        """What a post page shows: its source image and the latest video made from it."""
        post_id = post_id.lower()
        with self._lock:
            vpost = self._video_posts.get(post_id)
            if vpost is not None:
                media_id = vpost["metadata"]["parentPostId"]
            else:
                media_id = self._image_posts.get(post_id, self.media_id)
            video = None
            if vpost is not None and not vpost["moderated"]:
                video = vpost
            else:
                done = [p for p in self._posts if not p["moderated"] and p["metadata"]["parentPostId"] == media_id]
                video = done[-1] if done else None
            video = {"videoId": video["videoId"], "videoUrl": video["videoUrl"]} if video else None
        return {"postId": post_id, "mediaId": media_id, "video": video}

    def _render_post(self, post_id: str) -> str:
        info = self._post_info(post_id)
        dialog = self._take_dialog("load", info["postId"]) or self._dialog_on_load
        return post_page(
            post_id=info["postId"],
            media_id=info["mediaId"],
            editor=self.editor,
            locale=self.locale,
            toast_ms=self.toast_ms,
            video=info["video"],
            knobs=self._page_knobs(),
            options=dict(self.video_options),
            option_choices=OPTION_CHOICES,
            image_posts=dict(self._image_posts),
            dialog=dialog,
            markup=self.markup,
            video_url_in=self.video_url_in,
        )

    # ---- generation -------------------------------------------------------------------------
    def _schedule(self, outcome: Outcome) -> list[tuple[str, float]]:
        """(kind, progress) for each streamed video object of this attempt."""
        n = self.steps
        if outcome.kind == "ok":
            items = [("progress", round(100 * k / n)) for k in range(n)]
            return items + [("completed", 100)]
        if outcome.kind == "mod":
            m = outcome.mod_at
            if m <= 0:
                return [("moderated", 0)]
            k_steps = max(1, round(n * m / 100))
            items = [("progress", round(m * k / k_steps)) for k in range(k_steps)]
            return items + [("moderated", m)]
        if outcome.kind == "silent":
            k_steps = max(1, min(n, 3))
            return [("progress", round(30 * k / k_steps)) for k in range(1, k_steps + 1)]
        return []

    def _generate(self, h: _Handler, body: dict) -> None:
        received = time.time()
        outcome = self._next_outcome()
        prompt = body.get("message")
        prompt = prompt if isinstance(prompt, str) else ("" if prompt is None else str(prompt))
        parent = body.get("parentPostId") or self.media_id
        config = _video_gen_config(body)
        with self._lock:
            index = len(self._requests)
            self._requests.append(
                {
                    "t": received,
                    "prompt": prompt,
                    "parentPostId": body.get("parentPostId"),
                    "trusted": bool(body.get("trusted")),
                    "outcome": outcome.token,
                    "index": index,
                    "videoGenModelConfig": config,
                    "options": {k: config[k] for k in OPTION_CHOICES if k in config} if config is not None else None,
                }
            )
        after = {}
        if outcome.dialog is not None:
            after["dialog"] = _dialog_spec(outcome.dialog)
        elif outcome.kind == "ok" and (pending := self._take_dialog("next_video")):
            after["dialog"] = pending
        headers = {"X-Sim-After": json.dumps(after)} if after else None
        if self.response_delay_ms:  # the server takes its time to answer (headers and all)
            time.sleep(self.response_delay_ms / 1000.0)
        if outcome.kind == "rate":
            self._emit("rate", None, None, time.time() * 1000.0)
            h._json({"error": {"code": 8, "message": "Too many requests. Rate limit reached."}}, 429, headers)
            return

        step = (outcome.step_ms if outcome.step_ms is not None else self.step_ms) / 1000.0
        shape = _video_shape(config)
        video_id, video_post_id = new_id(), new_id()
        now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        conversation = {"conversationId": new_id(), "createTime": now}
        user = {"responseId": new_id(), "message": prompt, "sender": "human"}
        obj_index = 0

        def write(obj: dict) -> None:
            nonlocal obj_index
            data = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            mode = split_mode(obj_index)
            obj_index += 1
            if mode == "newline":
                h.write_chunk(data + b"\n")
            elif mode == "joined":
                h.write_chunk(data)
            else:
                cut = split_point(data)
                h.write_chunk(data[:cut])
                time.sleep(0.02)
                h.write_chunk(data[cut:] + b"\n")

        try:
            h.start_chunked(headers)
            conversation["serverTs"] = time.time() * 1000.0
            write({"result": {"conversation": conversation}})
            user["serverTs"] = time.time() * 1000.0
            write({"result": {"response": {"userResponse": user}}})
            for i, (kind, progress) in enumerate(self._schedule(outcome)):
                if i > 0:
                    time.sleep(step)
                v = {
                    "videoId": video_id,
                    "videoPostId": video_post_id,
                    "parentPostId": parent,
                    "progress": progress,
                    "moderated": kind == "moderated",
                    **shape,
                }
                if kind == "completed" and "stream" in self.video_url_in:
                    v["videoUrl"] = self.video_url(video_id)
                if kind in ("completed", "moderated"):
                    self._add_post(video_id, video_post_id, parent, progress, kind == "moderated")
                ts = time.time() * 1000.0
                v["serverTs"] = ts
                entry = self._emit(kind, video_id, progress, ts)
                write({"result": {"response": {"streamingVideoGenerationResponse": v}}})
                with self._lock:
                    entry["sent"] = time.time()  # a "split" object's last part leaves ~20 ms after serverTs
            h.end_chunked()
        except _QUIET_ERRORS:
            h.close_connection = True
        except OSError:
            h.close_connection = True

    def _add_post(self, video_id: str, video_post_id: str, parent: str, progress, moderated: bool) -> None:
        post = {
            "type": "VIDEO",
            "postId": video_post_id,
            "videoId": video_id,
            "videoUrl": None if moderated else self.video_url(video_id),
            "moderated": moderated,
            "metadata": {"progress": progress, "parentPostId": parent},
        }
        with self._lock:
            self._posts.append(post)
            self._video_posts[video_post_id] = post


def _video_shape(config: dict | None) -> dict:
    """mode, width, height for the stream objects, from the request's options."""
    opts = {**DEFAULT_OPTIONS, **{k: v for k, v in (config or {}).items() if v in OPTION_CHOICES.get(k, ())}}
    short = 720 if opts["resolutionName"] == "720p" else 480
    a, b = (int(x) for x in opts["aspectRatio"].split(":"))
    w, h = (short, round(short * b / a)) if a <= b else (round(short * a / b), short)
    return {"mode": opts["mode"], "width": w, "height": h}


def _video_gen_config(body: dict) -> dict | None:
    node = body
    for key in ("responseMetadata", "modelConfigOverride", "modelMap", "videoGenModelConfig"):
        node = node.get(key) if isinstance(node, dict) else None
    return dict(node) if isinstance(node, dict) else None


def _dialog_spec(spec) -> dict:
    kind, seconds = spec
    if kind not in DIALOG_KINDS:
        raise ValueError(f"dialog kind must be one of {', '.join(DIALOG_KINDS)}, not {kind!r}")
    if not float(seconds) > 0:
        raise ValueError(f"a dialog lasts more than 0 s, not {seconds!r}")
    return {"kind": kind, "ms": int(float(seconds) * 1000)}


def parse_knob(text: str) -> tuple[str, object]:
    """`NAME=VALUE` (a page knob of SimSite) -> (name, value); ValueError with one sentence.

    Numbers for the `*_ms` knobs (`toast_readd_ms` also takes `LO-HI`), `no_toasts=true`,
    `redo_resets=videoLength:6[,resolutionName:480p]`; texts take backslash escapes (`\\n`, `\\x1b`, `\\x07`)."""
    name, sep, value = str(text).partition("=")
    name = name.strip().replace("-", "_")
    if not sep or name not in PAGE_KNOBS:
        raise ValueError(f"expected NAME=VALUE with NAME one of {', '.join(PAGE_KNOBS)}, not {text!r}")
    try:
        if name == "toast_readd_ms" and "-" in value.strip("-"):
            lo, hi = value.split("-", 1)
            out: object = (float(lo), float(hi))
        elif name.endswith("_ms"):
            out = float(value)
        elif name in ("no_toasts", "busy_clicks"):
            if value.strip().lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                raise ValueError
            out = value.strip().lower() in ("1", "true", "yes", "on")
        elif name == "redo_resets":
            out = {}
            for part in filter(None, (p.strip() for p in value.split(","))):
                key, _, val = part.partition(":")
                out[key.strip()] = int(val) if val.strip().isdigit() else val.strip()
        else:
            out = value.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except (ValueError, UnicodeError):
        raise ValueError(f"bad value for {name}: {value!r}") from None
    SimSite()._set_knobs(**{name: out})  # validates
    return name, out


def run_sim(
    host: str = "127.0.0.1",
    port: int = 8765,
    script: list[str] | str = (),
    editor: str = "textarea",
    step_ms: int = 400,
    *,
    default: str = "ok",
    steps: int = 10,
    toast_ms: int = 4000,
    locale: str = "en",
    post_id: str | None = None,
    media_id: str | None = None,
    print_fn=print,
    **knobs,
) -> None:
    """Serve the simulated site until Ctrl-C; prints the post URL once. `knobs`: SimSite's page knobs."""
    site = SimSite(
        script,
        default=default,
        editor=editor,
        step_ms=step_ms,
        steps=steps,
        toast_ms=toast_ms,
        locale=locale,
        host=host,
        port=port,
        post_id=post_id,
        media_id=media_id,
        **knobs,
    ).start()
    print_fn(site.post_url())
    if print_fn is print:
        sys.stdout.flush()  # the URL is for whoever reads the pipe now
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        site.stop()
