"""Reads Grok's generation requests off the Network domain, live, and turns them into attempt-tagged events.

Each POST to the generation path is counted (a click's confirmation) and tied
to the attempt current when it was sent; its streamed body is parsed as it
arrives, and the whole body is read again at the end as a cross-check. Never
reads request headers, cookies or tokens.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
import time
from collections import OrderedDict
from urllib.parse import urljoin, urlsplit

from ..engine.events import RateLimited, VideoModerated, VideoSucceeded
from .attempts import MAX_KEYS, REQUESTED, RESPONDED, AttemptBoard, same_attempt
from .cdp import BrowserError, CdpSession, log
from .observer import GENERATION_PATH
from .page import Page
from .signals import VideoUrl
from .stream import GenerationTracker, JsonObjectStream

POST_LIST_PATH = "/rest/media/post/list"
RECOVER_S = 180.0  # how long an open attempt's outcome is looked for after a reload or re-attach
RECOVER_EVERY_S = 2.0

# The page's own post list, read by the page (its session, its cookies; grok-tui never sees them).
_JS_POST_LIST = """fetch(%s, {credentials: "same-origin", cache: "no-store"})
  .then((r) => r.ok ? r.json() : null)
  .then((j) => (j && Array.isArray(j.posts)) ? j.posts.slice(-500).map((p) => ({
      type: String(p.type || ""), videoId: String(p.videoId || ""), moderated: p.moderated === true,
      videoUrl: p.videoUrl ? true : false, progress: Number((p.metadata || {}).progress),
      parent: String((p.metadata || {}).parentPostId || "") })) : null)
  .catch(() => null)""" % json.dumps(POST_LIST_PATH)


def is_generation(url: str) -> bool:
    return _path_is(url, GENERATION_PATH)


def _path_is(url: str, path: str) -> bool:
    try:
        return urlsplit(url).path.rstrip("/") == path
    except ValueError:
        return False


LIVE_S = 30.0  # a generation stream that gave nothing for this long is not waited for by downloads
HOLD_S = 0.08  # after each sign of life of a generation stream (request, response, data) downloads wait this long


class _GenStream:
    """One generation response being read live."""

    def __init__(self, request_id: str, attempt: int | None, url: str = ""):
        self.request_id = request_id
        self.attempt = attempt
        self.url = url
        self.parser = JsonObjectStream()
        self.tracker = GenerationTracker()
        self.status: int | None = None
        self.streaming = False
        self.early: list[bytes] | None = None  # while streamResourceContent's answer is on its way: data that came first
        self.last = time.monotonic()  # when it last gave a sign of life (request, data)


class GenerationWatch:
    def __init__(self, page: Page, board: AttemptBoard):
        self.page, self.board = page, board
        self.streams: dict[str, _GenStream] = {}
        self.requests = 0  # generation requests seen since attach
        self._request_seen = threading.Event()
        self.post_lists: OrderedDict[str, str] = OrderedDict()  # requestId -> URL of /rest/media/post/list reads
        self.baseline: set[str] | None = None  # video ids in the post list before the session's first click
        self._recovering: int | None = None
        self.activity: float | None = None  # monotonic time of the last sign of life of a generation stream
        # (videoId, videoUrl, postId) of the post list's entries told already: the page reads the whole list after
        # every generation, and telling each earlier video again meant dozens of no-op VideoUrl events through the
        # runner's loop at every attempt's end, just as the DOM's moderation toast was on its way (issue 15)
        self._list_told: OrderedDict[tuple, None] = OrderedDict()

    # ------------------------------------------------------------------ the post list (after a reload)

    def post_list(self) -> list[dict] | None:
        """The page's /rest/media/post/list, as the page itself fetches it (None when unreadable)."""
        try:
            res = self.page.call("Runtime.evaluate", expression=_JS_POST_LIST, awaitPromise=True, returnByValue=True,
                                 timeout=5.0)
        except BrowserError as exc:
            log.debug("post list not read: %s", exc)
            return None
        value = (res.get("result") or {}).get("value")
        if not isinstance(value, list):
            return None
        return [p for p in value if isinstance(p, dict) and isinstance(p.get("videoId"), str) and 0 < len(p["videoId"]) <= 200]

    def take_baseline(self) -> None:
        """Before a session's first click: the videos that already exist (they are no attempt's)."""
        posts = self.post_list()
        self.baseline = {p["videoId"] for p in posts} if posts is not None else None

    def recover(self, media_id: str | None) -> None:
        """After a reload or re-attach: look for the open attempt's outcome in the post list."""
        with self.board.lock:
            attempt = self.board.open_attempt
            if attempt is None or same_attempt(self._recovering, attempt):
                return
            self._recovering = attempt
        self.board.log("INFO", f"attempt {attempt}: the page was reloaded mid-attempt; looking for its outcome in the post list")
        # its own thread: the look-up sleeps between reads and must not hold up the link's follow-ups
        threading.Thread(target=self._recover, args=(attempt, media_id), name="grok-tui-recover", daemon=True).start()

    def _recover(self, attempt: int, media_id: str | None) -> None:
        deadline = time.monotonic() + RECOVER_S
        try:
            while time.monotonic() < deadline:
                with self.board.lock:
                    if not same_attempt(self.board.open_attempt, attempt):
                        return  # resolved meanwhile (stream, DOM or store)
                s = self.page.session
                if s is not None and s.alive and self._found(attempt, media_id, self.post_list() or []):
                    return
                time.sleep(RECOVER_EVERY_S)  # the fallback path only: the live stream of this attempt is gone
        finally:
            with self.board.lock:
                if same_attempt(self._recovering, attempt):
                    self._recovering = None

    def _found(self, attempt: int, media_id: str | None, posts: list[dict]) -> bool:
        board = self.board
        with board.lock:
            own = board.videos_of(attempt)
            baseline = self.baseline

            def finished(p: dict) -> bool:
                return p.get("moderated") is True or bool(p.get("videoUrl")) or (p.get("progress") or 0) >= 100

            hit = next((p for p in reversed(posts) if p["videoId"] in own and finished(p)), None)
            if hit is None and baseline is not None and media_id:
                hit = next((p for p in reversed(posts)
                            if p.get("parent", "").lower() == media_id.lower() and p["videoId"] not in baseline
                            and not board.tied_elsewhere(p["videoId"], attempt) and finished(p)), None)
            if hit is None:
                return False
            board.tag_video(hit["videoId"], attempt)
        progress = hit.get("progress")
        progress = float(progress) if isinstance(progress, (int, float)) and progress == progress else None
        if hit.get("moderated") is True:
            board.emit_attempt(VideoModerated(attempt, progress, hit["videoId"], "postlist"))
        else:
            board.emit_attempt(VideoSucceeded(attempt, hit["videoId"], "postlist"))
        return True

    def register(self, s: CdpSession) -> None:
        # none of them waits for a CDP answer (follow-ups go to page.later): handled as they are received
        s.on("Network.requestWillBeSent", self._on_request, inline=True)
        s.on("Network.responseReceived", self._on_response, inline=True)
        s.on("Network.dataReceived", self._on_data, inline=True)
        s.on("Network.loadingFinished", self._on_finished, inline=True)
        s.on("Network.loadingFailed", self._on_failed, inline=True)

    def live(self) -> bool:
        """A generation response is being read (its events are on their way): downloads yield to it.
        A stream silent for LIVE_S (a request whose end was never reported) no longer counts."""
        since = time.monotonic() - LIVE_S
        with self.board.lock:
            return any(st.last >= since for st in self.streams.values())

    def hold(self) -> float:
        """Seconds downloads should still wait before their next read: HOLD_S after the last sign of
        life of a generation stream (its request, response or data), so that no read is in the
        browser's hands while the stream's next events are on their way; 0 when none was that recent."""
        t = self.activity
        return 0.0 if t is None else max(0.0, t + HOLD_S - time.monotonic())

    def _touch(self) -> None:
        self.activity = time.monotonic()

    def lost(self) -> None:
        """The connection is gone: forget the streams, wake a click waiting for its request."""
        self._request_seen.set()
        with self.board.lock:
            self.streams.clear()

    def wait_request(self, before: int, timeout: float) -> bool:
        """True once more than `before` generation requests were seen, within `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            with self.board.lock:
                if self.requests > before:
                    return True
            left = deadline - time.monotonic()
            s = self.page.session
            if left <= 0 or (s is not None and not s.alive):
                return False
            self._request_seen.wait(min(left, 0.25))
            self._request_seen.clear()

    def arm(self) -> int:
        """Before a click: the request count to wait beyond."""
        with self.board.lock:
            before = self.requests
        self._request_seen.clear()
        return before

    # ------------------------------------------------------------------ events

    def _on_request(self, p: dict) -> None:
        req = p.get("request") or {}
        rid = p.get("requestId")
        if not isinstance(req, dict) or not isinstance(rid, str):
            return
        url = str(req.get("url", ""))
        if req.get("method") == "GET" and _path_is(url, POST_LIST_PATH):
            with self.board.lock:
                self.post_lists[rid] = url
                if len(self.post_lists) > 32:
                    self.post_lists.popitem(last=False)
            return
        if req.get("method") != "POST" or not is_generation(url):
            return
        with self.board.lock:
            attempt = self.board.attempt
            if rid not in self.streams:
                self.streams[rid] = _GenStream(rid, attempt, url)
                if len(self.streams) > 32:  # forget the oldest abandoned requests
                    self.streams.pop(next(iter(self.streams)))
            self.requests += 1
            self._touch()
            if attempt is not None:
                self.board.open_attempt = attempt  # a paid generation: its outcome is looked for after a reload
                self.board.mark(attempt, REQUESTED)
        self._request_seen.set()
        log.debug("generation request %s -> attempt %s", rid, attempt)

    def _on_response(self, p: dict) -> None:
        rid = p.get("requestId")
        with self.board.lock:
            st = self.streams.get(rid)
        if st is None:
            return
        self._touch()
        if st.attempt is not None:
            with self.board.lock:
                self.board.mark(st.attempt, RESPONDED)  # from now on the page may show this attempt's outcome
        resp = p.get("response") or {}
        status = resp.get("status") if isinstance(resp, dict) else None
        st.status = int(status) if isinstance(status, (int, float)) else None
        if st.status == 429:
            if st.attempt is not None:
                self.board.emit_attempt(RateLimited(st.attempt, "network", "HTTP 429 on the generation request"))
            return
        if st.status is not None and st.status >= 400:
            self.board.log("WARN", f"generation request answered HTTP {st.status} (attempt {st.attempt})")
            return
        # Not waited for here: the thread that runs this handles every event of the tab (the DOM's signals
        # too), and the answer comes a round trip later, or later still behind another thread's call. It is
        # handled in order among the events; data that comes before it is fed after the answer's bufferedData.
        st.early = []
        try:
            self.page.require().call_async("Network.streamResourceContent", functools.partial(self._on_streaming, st),
                                           requestId=rid)
        except BrowserError as exc:
            st.early = None
            log.debug("streamResourceContent failed (%s); will read the body at the end", exc)

    def _on_streaming(self, st: _GenStream, res: dict | None, err: BrowserError | None) -> None:
        """streamResourceContent's answer (in order among the events): what Chrome had buffered, then what came meanwhile."""
        early, st.early = st.early or [], None
        if err is not None:
            log.debug("streamResourceContent failed (%s); will read the body at the end", err)
        else:
            st.streaming = True
            buffered = (res or {}).get("bufferedData")
            if isinstance(buffered, str) and buffered:
                try:
                    early.insert(0, base64.b64decode(buffered))
                except (ValueError, TypeError):
                    pass
        for raw in early:
            self._feed(st, raw)

    def _on_data(self, p: dict) -> None:
        data = p.get("data")
        if not data:
            return
        with self.board.lock:
            st = self.streams.get(p.get("requestId"))
        if st is None:
            return
        try:
            raw = base64.b64decode(data)
        except (ValueError, TypeError):
            return
        if st.early is not None:
            st.early.append(raw)
            return
        self._feed(st, raw)

    def _on_finished(self, p: dict) -> None:
        rid = p.get("requestId")
        with self.board.lock:
            st = self.streams.pop(rid, None)
            list_url = self.post_lists.pop(rid, None)
        if list_url is not None:
            self.page.later(self._read_post_list, rid, list_url)
        if st is None or (st.status is not None and st.status >= 400):
            return
        self.page.later(self._cross_check, rid, st)

    def _on_failed(self, p: dict) -> None:
        with self.board.lock:
            st = self.streams.pop(p.get("requestId"), None)
        if st is not None and not p.get("canceled"):
            self.board.log("WARN", f"generation request failed: {str(p.get('errorText', '?'))[:120]} (attempt {st.attempt})")

    # ------------------------------------------------------------------ body

    def _cross_check(self, rid: str, st: _GenStream) -> None:
        # Cross-check with the whole body: catches anything the live feed missed (no duplicates:
        # the tracker counts each videoId once).
        try:
            res = self.page.call("Network.getResponseBody", requestId=rid)
        except BrowserError as exc:
            log.debug("getResponseBody failed: %s", exc)
            return
        body = res.get("body")
        if not isinstance(body, str):
            return
        raw = base64.b64decode(body) if res.get("base64Encoded") else body.encode("utf-8")
        parser = JsonObjectStream()
        with self.board.lock:  # the live feed may still be at work on the event thread (an answer after the end)
            updates = st.tracker.feed_all(parser.feed(raw))
        self._handle_updates(st, updates)

    def _feed(self, st: _GenStream, raw: bytes) -> None:
        with self.board.lock:
            st.last = self.activity = time.monotonic()
            updates = st.tracker.feed_all(st.parser.feed(raw))
        self._handle_updates(st, updates)

    def _handle_updates(self, st: _GenStream, updates) -> None:
        board = self.board
        for u in updates:
            with board.lock:
                attempt = board.tag_video(u.video_id, st.attempt, u.video_post_id) if st.attempt is not None else None
            if attempt is None:
                continue
            if u.kind == "progress" and u.percent is not None:
                board.progress(attempt, u.percent, "network")
            elif u.kind == "moderated":
                board.emit_attempt(VideoModerated(attempt, u.percent, u.video_id, "network"))
            elif u.kind == "completed":
                board.emit_attempt(VideoSucceeded(attempt, u.video_id, "network", post_id=u.video_post_id))
                v = st.tracker.videos.get(u.video_id)
                if v is not None and v.video_url:
                    board.emit_attempt(
                        VideoUrl(urljoin(st.url, v.video_url), attempt, u.video_id, u.video_post_id, "network")
                    )

    def _read_post_list(self, rid: str, url: str) -> None:
        """`GET /rest/media/post/list`: the videoUrl of each finished video of one of our attempts."""
        try:
            res = self.page.call("Network.getResponseBody", requestId=rid)
            body = res.get("body")
            raw = base64.b64decode(body) if res.get("base64Encoded") else str(body or "").encode("utf-8")
            posts = json.loads(raw.decode("utf-8", errors="replace")).get("posts")
        except (BrowserError, ValueError, AttributeError, TypeError) as exc:
            log.debug("post list unreadable: %s", exc)
            return
        for post in posts if isinstance(posts, list) else []:
            if not isinstance(post, dict) or post.get("moderated") is True:
                continue
            vid, vurl = post.get("videoId"), post.get("videoUrl")
            if not (isinstance(vid, str) and vid and isinstance(vurl, str) and vurl):
                continue
            pid = post.get("postId") if isinstance(post.get("postId"), str) else None
            told = (vid, vurl, pid)
            with self.board.lock:
                attempt = self.board.known_attempt(vid)  # only videos of our attempts
                if attempt is None or told in self._list_told:
                    continue  # the same entry told before: nothing new for the saves
                self._list_told[told] = None
                if len(self._list_told) > MAX_KEYS:
                    self._list_told.popitem(last=False)
            self.board.emit_attempt(VideoUrl(urljoin(url, vurl), attempt, vid, pid, "postList"))
