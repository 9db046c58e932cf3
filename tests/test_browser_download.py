"""Reading a video through the browser's own session (real headless Chromium).

A page server sets an HttpOnly cookie; a video server on another origin (another
port) serves only requests that carry it, like assets.grok.com. grok-tui never sees
the cookie: Chrome sends it, grok-tui gets the bytes.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from grok_tui.browser.cdp import CdpSession
from grok_tui.browser.endpoint import discover
from grok_tui.browser.download import fetch_resource
from grok_tui.browser.launcher import launch_chrome
from grok_tui.downloads import Downloader, VideoJob

COOKIE = "grok-test-cookie-5ecr3t-value"
VIDEO = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes((i * 7) % 256 for i in range(700_000))


def _serve(handler) -> ThreadingHTTPServer:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


class _Page(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        body = b"<html><body>page</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Set-Cookie", f"sso={COOKIE}; HttpOnly; Path=/; SameSite=Lax")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Assets(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list = []

    def log_message(self, *a):
        pass

    def do_GET(self):
        has = f"sso={COOKIE}" in (self.headers.get("Cookie") or "")
        _Assets.seen.append((self.path, has))
        if not has or self.path.startswith("/forbidden"):
            self.send_response(403)
            self.send_header("Content-Length", "9")
            self.end_headers()
            self.wfile.write(b"forbidden")
            return
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(len(VIDEO)))
        self.end_headers()
        if self.path.startswith("/short"):
            self.wfile.write(VIDEO[: len(VIDEO) // 3])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(VIDEO)


@pytest.fixture(scope="module")
def browser():
    page, assets = _serve(_Page), _serve(_Assets)
    chrome = launch_chrome(f"http://127.0.0.1:{page.server_address[1]}/imagine/post/x")
    s = None
    try:
        _v, pages = discover("127.0.0.1", chrome.port)
        s = CdpSession(pages[0])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the page (and its cookie) has loaded
            r = s.call("Runtime.evaluate", timeout=30, returnByValue=True,
                       expression="location.protocol === 'http:' && document.readyState === 'complete'")
            if (r.get("result") or {}).get("value") is True:
                break
            time.sleep(0.1)
        frame = s.call("Page.getFrameTree", timeout=30)["frameTree"]["frame"]["id"]
        yield s, frame, f"http://127.0.0.1:{assets.server_address[1]}"
    finally:
        if s is not None:
            s.close()
        chrome.close()
        page.shutdown()
        assets.shutdown()


def _downloader(tmp_path, s, frame, **kw) -> Downloader:
    return Downloader(
        tmp_path / "dl", lambda url: fetch_resource(s.call, url, frame_id=frame, chunk=64 * 1024),
        sleep=lambda _s: None, **kw
    )


def _job(url: str) -> VideoJob:
    return VideoJob(video_id="0f1e2d3c-aaaa", url=url, number=1, attempt=1, prompt="p", session_started=1.8e9)


def test_cross_origin_video_with_the_browsers_cookie(browser, tmp_path):
    s, frame, assets = browser
    r = _downloader(tmp_path, s, frame).download(_job(f"{assets}/v/0f1e2d3c.mp4?sig=abc"))
    assert r.ok, r.reason
    assert open(r.path, "rb").read() == VIDEO and r.sha256 == hashlib.sha256(VIDEO).hexdigest()
    assert ("/v/0f1e2d3c.mp4?sig=abc", True) in _Assets.seen  # Chrome sent the HttpOnly cookie cross-origin
    side = open(r.sidecar).read()
    assert COOKIE not in side and "sig=abc" not in side


def test_a_refusal_is_a_clear_failure(browser, tmp_path):
    s, frame, assets = browser
    r = _downloader(tmp_path, s, frame).download(_job(f"{assets}/forbidden/v.mp4"))
    assert not r.ok and r.tries == 1
    assert r.reason.startswith("HTTP 403 (the browser's session was refused")
    assert list((tmp_path / "dl").iterdir()) == []


def test_a_truncated_body_is_retried_then_failed(browser, tmp_path):
    s, frame, assets = browser
    before = len(_Assets.seen)
    r = _downloader(tmp_path, s, frame, max_retries=2).download(_job(f"{assets}/short/v.mp4"))
    assert not r.ok and r.tries == 3
    assert len([p for p, _ in _Assets.seen[before:] if p == "/short/v.mp4"]) == 3
    assert "ERR_CONTENT_LENGTH_MISMATCH" in r.reason or "cut short" in r.reason
    assert list((tmp_path / "dl").iterdir()) == []


def test_a_download_yields_while_a_generation_streams(browser, monkeypatch):
    """While `busy()` is true the body comes at the paced rate; once it is false, at full speed."""
    from grok_tui.browser import download

    s, frame, assets = browser
    reads: list[float] = []
    sleeps: list[bool] = []  # for each pacing wait: was the stream still live?
    busy = [True]

    class _Time:  # the module's clock, with its waits recorded (only download.py sees it)
        monotonic = staticmethod(time.monotonic)

        @staticmethod
        def sleep(seconds):
            sleeps.append(busy[0])
            time.sleep(seconds)

    monkeypatch.setattr(download, "time", _Time)

    def call(method, timeout=5.0, **params):
        if method == "IO.read":
            reads.append(time.monotonic())
        return s.call(method, timeout=timeout, **params)

    t0 = time.monotonic()
    resp = fetch_resource(call, f"{assets}/v/paced.mp4", frame_id=frame, chunk=64 * 1024, busy=lambda: busy[0],
                          busy_rate=1_000_000)
    body = b""
    t_fast = None
    for chunk in resp.chunks:
        body += chunk
        if len(body) >= 350_000 and t_fast is None:
            busy[0] = False  # the stream ended: the rest at full speed
            t_fast = time.monotonic()
    assert body == VIDEO
    # the read that reached 350,000 bytes waited for the ones before it: >= 284,464 bytes at 1 MB/s
    assert t_fast - t0 >= 0.28
    assert len([t for t in reads if t <= t_fast]) >= 350_000 // (64 * 1024)
    assert sleeps.count(True) >= 4  # paced while live
    # the rest (350,000 bytes: 6 reads) at full speed: at most the one wait already due for the last paced read
    assert sleeps.count(False) <= 1
    assert len([t for t in reads if t > t_fast]) >= 5


def test_only_a_generation_stream_that_still_gives_data_is_live():
    from grok_tui.browser import network
    from grok_tui.browser.attempts import AttemptBoard

    watch = network.GenerationWatch(None, AttemptBoard(lambda _e: None))
    assert not watch.live()
    st = watch.streams["r1"] = network._GenStream("r1", 1)
    assert watch.live()
    st.last -= network.LIVE_S + 1  # a request whose end never came
    assert not watch.live()
    watch._feed(st, b'{"result": {}}')
    assert watch.live()


def test_reads_wait_while_a_stream_chunk_holds_them_then_resume(browser):
    """After a stream's sign of life, `hold()` > 0: no IO.read goes out until it is 0 again; then reading goes on."""
    s, frame, assets = browser
    events: list[str] = []
    holds = [0]  # positive answers still to give

    def call(method, timeout=5.0, **params):
        if method == "IO.read":
            events.append("read")
        return s.call(method, timeout=timeout, **params)

    def hold() -> float:
        if holds[0] > 0:
            holds[0] -= 1
            events.append("held")
            return 0.01
        events.append("free")
        return 0.0

    resp = fetch_resource(call, f"{assets}/v/held.mp4", frame_id=frame, chunk=64 * 1024, hold=hold)
    body = b""
    for chunk in resp.chunks:
        body += chunk
        if len(body) >= 200_000 and "chunk" not in events:
            events.append("chunk")  # a stream chunk arrived: the next three asks say wait
            holds[0] = 3
    assert body == VIDEO
    i = events.index("chunk")
    assert events[i + 1:i + 6] == ["held", "held", "held", "free", "read"]
    assert events.count("read") >= len(VIDEO) // (64 * 1024)  # every read asked first: none skipped the hold
    assert all(events[k - 1] == "free" for k, e in enumerate(events) if e == "read")


def test_a_hold_that_never_ends_delays_reads_but_does_not_stop_the_download(browser, monkeypatch):
    from grok_tui.browser import download

    s, frame, assets = browser
    monkeypatch.setattr(download, "MAX_HOLD_S", 0.02)
    asks = [0]

    def hold() -> float:
        asks[0] += 1
        return 10.0  # a stream that never stops giving data

    resp = fetch_resource(s.call, f"{assets}/v/endless.mp4", frame_id=frame, chunk=128 * 1024, hold=hold)
    assert b"".join(resp.chunks) == VIDEO
    assert asks[0] >= len(VIDEO) // (128 * 1024)


def test_a_generation_streams_signs_of_life_hold_downloads_for_a_moment():
    from grok_tui.browser import network
    from grok_tui.browser.attempts import AttemptBoard

    watch = network.GenerationWatch(None, AttemptBoard(lambda _e: None))
    assert watch.hold() == 0.0  # no stream yet: nothing to wait for
    url = "https://grok.com/rest/app-chat/conversations/new"
    watch._on_request({"requestId": "r1", "request": {"method": "POST", "url": url}})
    assert 0 < watch.hold() <= network.HOLD_S  # the request went out: its answer is on its way
    watch.activity -= network.HOLD_S
    assert watch.hold() == 0.0
    watch._feed(watch.streams["r1"], b'{"result": {}}')
    assert 0 < watch.hold() <= network.HOLD_S  # data arrived: more of it may follow
    watch.activity -= network.HOLD_S
    assert watch.hold() == 0.0
