"""The browser link against real headless Chromium and the simulated Grok site."""

from __future__ import annotations

import http.server
import socket
import threading
import time

import pytest

from grok_tui.browser.cdp import BrowserError, CdpError, NoMatchingTab, NotChrome, NothingListening
from grok_tui.browser.endpoint import discover
from grok_tui.browser.cdp import Disconnected as DisconnectedError
from grok_tui.browser.launcher import free_port
from grok_tui.browser.link import BrowserLink
from grok_tui.browser.signals import Attached, TabLost
from grok_tui.engine.events import (
    AttemptProgress,
    ClickFailed,
    ClickMakeVideo,
    ClickSent,
    RateLimited,
    RouteChanged,
    VideoModerated,
    VideoSucceeded,
)

PROMPT = 'a "quoted" prompt — é 日本 🎬'
SIM_TITLE = "Grok Imagine (simulated)"


class Recorder:
    def __init__(self):
        self.events: list = []
        self._cond = threading.Condition()

    def __call__(self, event):
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def of(self, cls, **fields):
        with self._cond:
            return [e for e in self.events if isinstance(e, cls) and all(getattr(e, k) == v for k, v in fields.items())]

    def wait(self, cls, timeout=10.0, **fields):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [e for e in self.events if isinstance(e, cls) and all(getattr(e, k) == v for k, v in fields.items())]
                if found:
                    return found[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {cls.__name__} {fields} within {timeout} s; got {self.events!r}")
                self._cond.wait(left)


def wait_loaded(chrome, url, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, pages = discover(chrome.host, chrome.port)
        if any(p.get("url") == url and p.get("title") == SIM_TITLE for p in pages):
            return
        time.sleep(0.05)
    raise AssertionError(f"{url} did not load")


@pytest.fixture
def make_env(rigs):
    links = []

    def make(script="ok", editor="textarea", **link_kw):
        rig = rigs(script, editor=editor, step_ms=25, steps=8)
        site, chrome = rig.site, rig.chrome
        rec = Recorder()
        link = BrowserLink(host=chrome.host, port=chrome.port, tab_match="/imagine/post/", emit=rec, **link_kw)
        links.append(link)
        wait_loaded(chrome, site.post_url())
        return site, chrome, link, rec

    yield make
    for link in links:
        link.close()


def wait_requests(site, n, timeout=5.0):
    """The sim records a request when it has read it: a moment after Chrome sent it."""
    deadline = time.monotonic() + timeout
    while len(site.requests) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    return site.requests


def click(link, site, attempt, prompt=PROMPT):
    link.execute_click(ClickMakeVideo(attempt=attempt, prompt=prompt, media_id=site.media_id))


# ----------------------------------------------------------------------------- attach errors


def test_nothing_listening():
    port = free_port()
    with pytest.raises(NothingListening) as err:
        BrowserLink(port=port, emit=lambda e: None).attach()
    msg = str(err.value)
    assert "grok-tui chrome" in msg
    assert f"--remote-debugging-port={port}" in msg and "--user-data-dir" in msg and "136" in msg


class _NotDevTools(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<html>hello</html>" if self.path == "/json/version" else b"nope"
        self.send_response(200 if self.path == "/json/version" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def test_not_chrome_http_server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotDevTools)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        with pytest.raises(NotChrome) as err:
            BrowserLink(port=srv.server_address[1], emit=lambda e: None).attach()
        assert "not a Chrome DevTools endpoint" in str(err.value)
    finally:
        srv.shutdown()
        srv.server_close()


def test_not_chrome_raw_socket():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    port = sock.getsockname()[1]

    def serve():
        try:
            conn, _ = sock.accept()
            conn.recv(1024)
            conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
            conn.close()
        except OSError:
            pass

    threading.Thread(target=serve, daemon=True).start()
    try:
        with pytest.raises(NotChrome):
            discover("127.0.0.1", port, timeout=2.0)
    finally:
        sock.close()


def test_no_matching_tab(make_env):
    site, chrome, _, rec = make_env()
    link = BrowserLink(host=chrome.host, port=chrome.port, tab_match="grok.com/imagine", emit=rec)
    with pytest.raises(NoMatchingTab) as err:
        link.attach()
    assert err.value.urls == [site.post_url()]
    assert site.post_url() in str(err.value)
    assert rec.events == []


# ----------------------------------------------------------------------------- attach + page reads


def test_attach_identity_title_and_prompt(make_env):
    site, chrome, link, rec = make_env()
    t0 = time.monotonic()
    info = link.attach()
    assert time.monotonic() - t0 < 3.0
    assert isinstance(rec.events[-1], Attached) and rec.events[-1].info == info
    assert info.browser.startswith(("Chrome/", "HeadlessChrome/"))
    assert info.matched == 1 and info.pages == 1
    ident = link.identity()
    assert ident.url == site.post_url()
    assert ident.post_id == site.post_id
    assert ident.media_id == site.media_id
    assert ident.title == SIM_TITLE

    link.set_title("🎬 2/3 · 🔄 1/5")
    _, pages = discover(chrome.host, chrome.port)
    assert pages[0]["title"] == f"🎬 2/3 · 🔄 1/5 — {SIM_TITLE}"
    link.set_title("🎬 3/3")  # replaces our prefix, never stacks
    _, pages = discover(chrome.host, chrome.port)
    assert pages[0]["title"] == f"🎬 3/3 — {SIM_TITLE}"
    assert link.identity().title == SIM_TITLE
    link.set_title("")
    _, pages = discover(chrome.host, chrome.port)
    assert pages[0]["title"] == SIM_TITLE

    assert link.capture_prompt() == ""


# ----------------------------------------------------------------------------- end to end


@pytest.mark.parametrize("editor", ["textarea", "prosemirror"])
def test_click_ok_prompt_intact(make_env, editor):
    site, chrome, link, rec = make_env("ok", editor)
    link.attach()
    click(link, site, 1)
    sent = rec.wait(ClickSent, attempt=1)
    assert "verified" in sent.detail
    reqs = wait_requests(site, 1)
    assert len(reqs) == 1
    assert reqs[0]["prompt"] == PROMPT
    assert reqs[0]["trusted"] is True
    assert reqs[0]["parentPostId"] == site.media_id
    assert link.capture_prompt() == PROMPT

    net = rec.wait(VideoSucceeded, attempt=1, source="network")
    assert net.video_id == site.emitted[-1]["videoId"]
    rec.wait(VideoSucceeded, attempt=1, source="dom")
    store = rec.wait(VideoSucceeded, attempt=1, source="store")
    assert store.video_id == net.video_id
    # ClickSent comes before every event of its attempt.
    first = next(i for i, e in enumerate(rec.events) if getattr(e, "attempt", None) == 1)
    assert isinstance(rec.events[first], ClickSent)
    progress = [e.percent for e in rec.of(AttemptProgress, attempt=1)]
    assert progress == sorted(progress) and 100.0 in progress
    assert not rec.of(ClickFailed)
    # The sim moves to the new video post with pushState: the route change is reported.
    route = rec.wait(RouteChanged)
    assert route.post_id and route.post_id != site.post_id
    assert route.media_id == site.media_id


def test_moderated_at_40_and_toast_once(make_env):
    site, chrome, link, rec = make_env("mod@40")
    link.attach()
    click(link, site, 1)
    net = rec.wait(VideoModerated, attempt=1, source="network")
    assert net.percent == 40.0
    assert net.video_id == site.emitted[-1]["videoId"]
    dom = rec.wait(VideoModerated, attempt=1, source="dom")
    assert dom.percent is None
    store = rec.wait(VideoModerated, attempt=1, source="store")
    assert store.percent == 40.0
    # The sim re-renders the toast (same data-ts) after 1 s: still one report.
    time.sleep(1.5)
    assert len(rec.of(VideoModerated, source="dom")) == 1
    assert not rec.of(VideoSucceeded)
    assert max(e.percent for e in rec.of(AttemptProgress, attempt=1)) < 40.0 + 1e-9


def test_rate_limited(make_env):
    site, chrome, link, rec = make_env("rate")
    link.attach()
    click(link, site, 1)
    rec.wait(ClickSent, attempt=1)
    net = rec.wait(RateLimited, attempt=1, source="network")
    assert "429" in net.detail
    dom = rec.wait(RateLimited, attempt=1, source="dom")
    assert "rate limit reached" in dom.detail.lower()
    assert not rec.of(VideoModerated) and not rec.of(VideoSucceeded)


def test_attempt_tagging_across_attempts(make_env):
    site, chrome, link, rec = make_env("mod@40,ok")
    link.attach()
    click(link, site, 1)
    rec.wait(VideoModerated, attempt=1, source="dom")
    # The moderation toast is still visible (4 s) when attempt 2 is clicked.
    click(link, site, 2)
    rec.wait(VideoSucceeded, attempt=2, source="network")
    rec.wait(VideoSucceeded, attempt=2, source="dom")
    rec.wait(VideoSucceeded, attempt=2, source="store")
    time.sleep(0.5)
    assert not rec.of(VideoModerated, attempt=2)
    assert not rec.of(VideoSucceeded, attempt=1)
    assert len(rec.of(VideoModerated, source="dom")) == 1
    assert [r["prompt"] for r in wait_requests(site, 2)] == [PROMPT, PROMPT]


def test_missing_editor_fails_the_click(make_env):
    site, chrome, link, rec = make_env("ok", selectors={"prompt": ["textarea#nowhere"]})
    link.attach()
    click(link, site, 1)
    failed = rec.wait(ClickFailed, attempt=1, timeout=1.0)
    assert "editor" in failed.reason
    assert site.requests == []


def test_click_without_request_waits_late_then_fails_without_a_second_click(make_env):
    site, chrome, link, rec = make_env(
        "ok", selectors={"generate": ['button[aria-label="Video Options"]']}, confirm_timeout=0.4
    )
    link.attach()
    t0 = time.monotonic()
    click(link, site, 1)
    failed = rec.wait(ClickFailed, attempt=1, timeout=0.1)
    assert "no generation request" in failed.reason
    assert 2.4 - 0.1 <= time.monotonic() - t0 < 5.0  # the confirm window plus the late window (5 x 0.4 s)
    assert any("never a second click" in getattr(e, "message", "") for e in rec.events)
    assert site.requests == []
    assert not rec.of(ClickSent)


def test_page_junk_is_dropped(make_env):
    site, chrome, link, rec = make_env("ok")
    link.attach()
    n0 = len(rec.events)
    junk = [
        "'not json'",
        "JSON.stringify({kind: 'toast', text: 'Content Moderated', key: 5})",
        "JSON.stringify({kind: 'eval', code: 'x'})",
        "JSON.stringify({kind: 'progress', percent: 1e9})",
        "'x'.repeat(70000)",
    ]
    for expr in junk:
        link.page.eval(f"window[{link.page.binding!r}]({expr})")
    # A well-formed moderation toast before any click resolves nothing.
    link.page.eval(f"window[{link.page.binding!r}](JSON.stringify([{{kind:'toast', text:'Content Moderated', key:'k1', ts:1}}]))")
    # A flood is cut by the rate limit.
    link.page.eval(f"for (var i = 0; i < 600; i++) window[{link.page.binding!r}]('[]')")
    deadline = time.monotonic() + 5
    while link.gate.received < 606 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert link.gate.received >= 606
    assert link.gate.dropped >= 5 + 300
    engine_events = [e for e in rec.events[n0:] if hasattr(e, "attempt")]
    assert engine_events == []


def test_chrome_killed_gives_disconnected(make_env, capfd):
    site, chrome, link, rec = make_env("ok/200")
    link.attach()
    click(link, site, 1)
    rec.wait(ClickSent, attempt=1)
    t0 = time.monotonic()
    chrome.kill()
    ev = rec.wait(TabLost, timeout=5.0)
    assert time.monotonic() - t0 < 5.0
    assert ev.reason
    assert not link.attached
    # Further use fails fast instead of hanging.
    t0 = time.monotonic()
    click(link, site, 2)
    failed = rec.wait(ClickFailed, attempt=2, timeout=1.0)
    assert "connection" in failed.reason.lower()
    with pytest.raises(DisconnectedError):
        link.capture_prompt()
    assert time.monotonic() - t0 < 1.0
    link.close()
    assert len(rec.of(TabLost)) == 1
    assert "Traceback" not in capfd.readouterr().err


def test_tab_closed_gives_disconnected(make_env):
    import urllib.request

    site, chrome, link, rec = make_env("ok")
    info = link.attach()
    t0 = time.monotonic()
    with urllib.request.urlopen(f"http://{chrome.host}:{chrome.port}/json/close/{info.target_id}", timeout=5) as r:
        r.read()
    ev = rec.wait(TabLost, timeout=5.0)
    assert time.monotonic() - t0 < 5.0
    assert ev.reason
    assert not link.attached
    # The browser is still there: attaching again finds no matching tab.
    with pytest.raises(NoMatchingTab):
        link.attach()


# ----------------------------------------------------------------------------- answers handled among the events


def test_call_async_answer_comes_in_wire_order_on_the_event_thread(make_env):
    """A call_async answer is handled after the events Chrome sent before it, never while the caller waits."""
    site, chrome, link, rec = make_env("ok")
    link.attach()
    s = link.page.session
    seen: list[tuple] = []
    done = threading.Event()
    s.on("Runtime.consoleAPICalled", lambda p: seen.append(("event", p["args"][0].get("value"))))

    def on_reply(res, err):
        seen.append(("answer", (res or {}).get("result", {}).get("value"), err))
        done.set()

    s.call_async("Runtime.evaluate", on_reply, expression="console.log('before the answer'); 41 + 1", returnByValue=True)
    assert done.wait(5.0)
    assert seen == [("event", "before the answer"), ("answer", 42, None)]
    # an error answer comes as the error, the result None
    done.clear()
    got: list = []
    s.call_async("Network.streamResourceContent", lambda res, err: (got.append((res, err)), done.set()), requestId="nope")
    assert done.wait(5.0)
    assert got[0][0] is None and isinstance(got[0][1], BrowserError)


def test_closing_a_connection_forgets_the_commands_it_still_waited_on(make_env):
    """The ids of sent commands whose answers had not come (send_nowait's and call_async's) go with the connection."""
    site, chrome, link, rec = make_env("ok")
    link.attach()
    conn = link.page.session.connection
    conn._unanswered[10**9] = "Runtime.evaluate"  # as left by a send_nowait whose answer never came
    conn._on_reply[10**9 + 1] = lambda res, err: None
    link.close()
    assert conn._unanswered == {} and conn._on_reply == {}


def test_stream_data_before_the_streaming_answer_is_read_after_its_buffered_data(make_env):
    """streamResourceContent is not waited for on the event thread: data that comes before its answer is
    kept and fed after the answer's bufferedData, so the stream is still read in order, live."""
    site, chrome, link, rec = make_env("mod@40")
    link.attach()
    s = link.page.session
    real = s.call_async
    held: list = []
    rid: list = []
    early: list[int] = []

    def call_async(method, on_reply, **params):
        if method != "Network.streamResourceContent":
            return real(method, on_reply, **params)
        # its answer is handled only after two data events that came after it (Chrome streams from the answer on)
        return real(method, lambda res, err: held.append((params["requestId"], on_reply, res, err)), **params)

    def data_hook(p):  # runs after the link's own handler, on the same thread, in order
        if held and held[0] is not None and p.get("requestId") == held[0][0] and p.get("data"):
            early.append(1)
            if len(early) == 2:
                rid[:] = [held[0][0]]
                _, on_reply, res, err = held[0]
                held[0] = None
                on_reply(res, err)

    def finished_hook(p):  # the sim's page aborts its read once the outcome is in (loadingFailed, canceled)
        if rid and p.get("requestId") == rid[0]:
            rec("loading finished")  # the live feed's events come before this; the end's cross-check after it

    s.call_async = call_async
    s.on("Network.dataReceived", data_hook)
    s.on("Network.loadingFinished", finished_hook)
    s.on("Network.loadingFailed", finished_hook)
    click(link, site, 1)
    rec.wait(VideoModerated, attempt=1, source="store")
    deadline = time.monotonic() + 5
    while "loading finished" not in rec.events and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(early) >= 2 and held == [None]  # the answer was held behind two data events
    end = rec.events.index("loading finished")
    live = [e for e in rec.events[:end] if getattr(e, "source", None) == "network"]
    sent = [e["progress"] for e in site.emitted if e.get("kind") == "progress"]
    assert [e.percent for e in live if isinstance(e, AttemptProgress)] == sorted(set(sent) - {0})  # 0 is no progress
    moderated = [e for e in live if isinstance(e, VideoModerated)]
    assert len(moderated) == 1 and moderated[0].percent == 40.0


def test_inline_handlers_keep_the_order_behind_a_handler_that_waits(make_env):
    """An inline handler's event that comes while a waiting handler still runs on the event thread is
    handled after it, never beside it; a waiting call from the receiving thread fails at once."""
    site, chrome, link, rec = make_env("ok")
    link.attach()
    s = link.page.session
    order: list[tuple] = []
    done = threading.Event()

    def slow(p):  # a handler that may wait: the event thread
        time.sleep(0.3)
        order.append(("console", threading.current_thread().name))

    def quick(p):
        try:
            s.call("Runtime.evaluate", timeout=2.0, expression="1")
            outcome = "answered"
        except CdpError as exc:
            outcome = "refused" if "inline" in str(exc) else str(exc)
        order.append(("binding", threading.current_thread().name, outcome))
        done.set()

    s.on("Runtime.consoleAPICalled", slow)
    s.on("Runtime.bindingCalled", quick, inline=True)
    link.page.eval(f"console.log('first'); window[{link.page.binding!r}]('[]')")
    assert done.wait(5.0)
    assert [o[0] for o in order] == ["console", "binding"]
    assert order[0][1] == "cdp-events"
    # behind the slow handler the binding call went to the event thread too, where a waiting call is fine
    assert order[1][1:] == ("cdp-events", "answered")
    # when nothing is queued, the inline handler runs on the receiving thread: a waiting call is refused there
    done.clear()
    del order[:]
    link.page.eval(f"window[{link.page.binding!r}]('[]')")
    assert done.wait(5.0)
    assert order == [("binding", "cdp-recv", "refused")]
