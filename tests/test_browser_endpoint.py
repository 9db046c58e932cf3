"""The browser-level endpoint: --chrome-profile (DevToolsActivePort) and --cdp-url, with no /json request, and their bad input.

Chrome 144+'s chrome://inspect toggle serves only the browser WebSocket named in
the profile's DevToolsActivePort (every /json request answers 404). A Chromium
started with --remote-debugging-port=0 writes that file too; a small loopback
proxy in front of it answers every HTTP request with 404 except the WebSocket
upgrade to /devtools/browser/…, and counts the /json requests.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from grok_tui.browser.cdp import BrowserError
from grok_tui.browser.endpoint import EndpointSpec, resolve, usual_profile_dirs
from grok_tui.browser.link import BrowserLink
from grok_tui.browser.launcher import free_port, launch_chrome
from grok_tui.sim import SimSite

PROMPT = "a fox in the snow"
SEED = {
    "outcome": "success", "completedVideos": 3, "videoGoal": 3, "retriesAttempted": 1, "maxRetries": 5,
    "creditsUsed": 4, "layer1Failures": 0, "layer2Failures": 1, "layer3Failures": 0,
}


class BrowserOnlyProxy:
    """Loopback proxy: pipes the WebSocket upgrade to /devtools/browser/… to Chrome, 404s everything else.

    `delay_s`: after the handshake's answer, everything Chrome sends reaches the client that much
    later (in order): a slow Chrome, every CDP round trip `delay_s` longer."""

    def __init__(self, chrome_port: int, delay_s: float = 0.0):
        self.chrome_port = chrome_port
        self.delay_s = delay_s
        self.json_requests: list[str] = []
        self.upgrades = 0
        self.srv = socket.create_server(("127.0.0.1", 0))
        self.port = self.srv.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            data = conn.recv(65536)
            if not data:
                conn.close()
                return
            head += data
        first = head.split(b"\r\n", 1)[0].decode("latin-1").split()
        path = first[1] if len(first) > 1 else ""
        if path.startswith("/json"):
            self.json_requests.append(path)
        if path.startswith("/devtools/browser/") and b"upgrade: websocket" in head.lower():
            self.upgrades += 1
            up = socket.create_connection(("127.0.0.1", self.chrome_port))
            up.sendall(head)
            threading.Thread(target=self._pipe, args=(conn, up), daemon=True).start()
            back = self._pipe if not self.delay_s else self._late_pipe
            threading.Thread(target=back, args=(up, conn), daemon=True).start()
            return
        conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        conn.close()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _late_pipe(self, a: socket.socket, b: socket.socket) -> None:
        import queue

        due: queue.Queue = queue.Queue()

        def deliver() -> None:
            while (item := due.get()) is not None:
                at, data = item
                time.sleep(max(0.0, at - time.monotonic()))
                try:
                    b.sendall(data)
                except OSError:
                    return

        threading.Thread(target=deliver, daemon=True).start()
        first = True
        try:
            while data := a.recv(65536):
                due.put((time.monotonic() + (0.0 if first else self.delay_s), data))
                first = False
        except OSError:
            pass
        due.put(None)

    def close(self) -> None:
        self.srv.close()


@pytest.fixture
def toggle_chrome(tmp_path):
    """(sim site, proxy, profile dir whose DevToolsActivePort points at the proxy, the browser path)."""
    site = SimSite(script="ok,mod@40,ok,ok", step_ms=20).start()
    chrome = launch_chrome(site.post_url(), port=0, profile_dir=str(tmp_path / "chrome"))
    proxy = BrowserOnlyProxy(chrome.port)
    ws_path = (tmp_path / "chrome" / "DevToolsActivePort").read_text().split("\n")[1].strip()
    profile = tmp_path / "profile"
    profile.mkdir()
    (profile / "DevToolsActivePort").write_text(f"{proxy.port}\n{ws_path}")
    yield site, proxy, profile, ws_path
    proxy.close()
    chrome.close()
    site.stop()


def grok(*args: str, tmp_path: Path, timeout: float = 90) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(GROK_TUI_STATE_DIR=str(tmp_path / "state"), GROK_TUI_CONFIG_FILE=str(tmp_path / "none.toml"))
    return subprocess.run([sys.executable, "-m", "grok_tui", *args], env=env, capture_output=True, text=True, timeout=timeout)


SESSION = ("run", "--no-ui", "--prompt", PROMPT, "--tab", "/imagine/post/", "--goal", "3", "--max-retries", "5",
           "--cooldown", "0.3", "--next-video-delay", "0.3", "--timeout", "20")


def check_seed_run(p: subprocess.CompletedProcess, site) -> list[dict]:
    assert p.returncode == 0, p.stderr
    lines = [json.loads(line) for line in p.stdout.splitlines()]
    assert lines[0]["event"] == "attached"
    summary = {k: lines[-1].get(k) for k in SEED}  # the seed's fields (grok-tui adds its own after them)
    assert lines[-1]["event"] == "summary" and summary == SEED
    assert [r["outcome"] for r in site.requests] == ["ok", "mod@40", "ok", "ok"]
    assert all(r["prompt"] == PROMPT and r["trusted"] for r in site.requests)
    return lines


def test_chrome_profile_runs_the_seed_session_without_json(toggle_chrome, tmp_path):
    site, proxy, profile, _ = toggle_chrome
    p = grok(*SESSION, "--chrome-profile", str(profile), tmp_path=tmp_path)
    lines = check_seed_run(p, site)
    assert proxy.json_requests == [] and proxy.upgrades >= 1
    assert any(l["event"] == "log" and f"DevToolsActivePort in {profile}" in l["message"] for l in lines)
    assert lines[0]["endpoint"] == f"127.0.0.1:{proxy.port} via DevToolsActivePort in {profile}"


def test_cdp_url_ws_runs_the_seed_session_without_json(toggle_chrome, tmp_path):
    site, proxy, _, ws_path = toggle_chrome
    p = grok(*SESSION, "--cdp-url", f"ws://127.0.0.1:{proxy.port}{ws_path}", tmp_path=tmp_path)
    lines = check_seed_run(p, site)
    assert proxy.json_requests == [] and proxy.upgrades >= 1
    assert lines[0]["endpoint"] == f"127.0.0.1:{proxy.port} via --cdp-url"
    assert ws_path not in p.stdout  # the browser's /devtools/browser/<id> is not printed


def test_one_deadline_for_the_whole_attach(toggle_chrome):
    """Every CDP answer 0.3 s late: each step is far inside its own 5 s, but an attach is ~15
    round trips, so only a deadline over the whole attach (here 2 s) can stop it."""
    from grok_tui.browser.endpoint import AttachTimeout

    _site, proxy, _, ws_path = toggle_chrome
    slow = BrowserOnlyProxy(proxy.chrome_port, delay_s=0.3)
    try:
        link = BrowserLink(emit=lambda ev: None, tab_match="/imagine/post/", attach_deadline_s=2.0,
                           endpoint=EndpointSpec(cdp_url=f"ws://127.0.0.1:{slow.port}{ws_path}"))
        t0 = time.monotonic()
        with pytest.raises(AttachTimeout) as err:
            link.attach()
        took = time.monotonic() - t0
        link.close()
    finally:
        slow.close()
    assert 1.9 <= took <= 3.0, took
    msg = str(err.value)
    assert msg.startswith(f"Attaching to Chrome at 127.0.0.1:{slow.port} did not finish within 2 s (still at ")
    assert msg.count(". ") == 0 and msg.endswith(".")


# ----------------------------------------------------------------------------- bad input


def one_sentence(p: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in p.stderr + p.stdout
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("grok-tui: ") and lines[0].endswith(".")
    return lines[0]


@pytest.mark.parametrize("command", [["run", "--no-ui", "--prompt", "x"], []])
def test_stale_port_file(tmp_path, command):
    port = free_port()
    (tmp_path / "DevToolsActivePort").write_text(f"{port}\n/devtools/browser/0b1f")
    p = grok(*command, "--chrome-profile", str(tmp_path), tmp_path=tmp_path)
    assert p.returncode == 3
    assert f"names port {port} but nothing listens there" in one_sentence(p)


def test_port_file_with_garbage(tmp_path):
    (tmp_path / "DevToolsActivePort").write_bytes(b"hello\x00\nworld")
    p = grok("run", "--no-ui", "--prompt", "x", "--chrome-profile", str(tmp_path), tmp_path=tmp_path)
    assert p.returncode == 3
    assert "is not a DevTools port file" in one_sentence(p)


def test_no_port_file(tmp_path):
    p = grok("run", "--no-ui", "--prompt", "x", "--chrome-profile", str(tmp_path), tmp_path=tmp_path)
    assert p.returncode == 3
    assert "There is no DevToolsActivePort in" in one_sentence(p)


def test_cdp_url_nothing_listening(tmp_path):
    port = free_port()
    p = grok("run", "--no-ui", "--prompt", "x", "--cdp-url", f"ws://127.0.0.1:{port}/devtools/browser/x", tmp_path=tmp_path)
    assert p.returncode == 3
    assert f"Nothing is listening on 127.0.0.1:{port}" in one_sentence(p)


@pytest.mark.parametrize("url", ["ws://192.168.1.20:9222/devtools/browser/abc", "http://example.com:9222"])
def test_cdp_url_not_loopback(tmp_path, url):
    p = grok("run", "--no-ui", "--prompt", "x", "--cdp-url", url, tmp_path=tmp_path)
    assert p.returncode == 3
    assert "is not this machine" in one_sentence(p) and "--allow-remote-cdp" in p.stderr


def test_cdp_url_not_an_endpoint(tmp_path):
    p = grok("run", "--no-ui", "--prompt", "x", "--cdp-url", "ws://127.0.0.1:9/devtools/page/abc", tmp_path=tmp_path)
    assert p.returncode == 3
    assert "is not a browser endpoint" in one_sentence(p)


@pytest.fixture
def slow_server():
    """A server that answers 1 byte per second ("drip"), or says nothing and then refuses ("refuse")."""
    srv = socket.create_server(("127.0.0.1", 0))
    mode = {"kind": "drip"}

    def handle(conn):
        with conn:
            try:
                conn.recv(65536)
                if mode["kind"] == "drip":
                    for b in b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"{" * 100:
                        conn.sendall(bytes([b]))
                        time.sleep(1.0)
                else:
                    time.sleep(1.6)  # Chrome shows its prompt; the user says no
                    conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            except OSError:
                pass

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield srv.getsockname()[1], mode
    srv.close()


DRIPPING_FORMS = {
    "cdp-port": lambda port: EndpointSpec(port=port),
    "cdp-url-http": lambda port: EndpointSpec(cdp_url=f"http://127.0.0.1:{port}"),
    "cdp-url-ws": lambda port: EndpointSpec(cdp_url=f"ws://127.0.0.1:{port}/devtools/browser/x"),
}


def test_a_dripping_endpoint_fails_within_six_seconds_in_every_form(slow_server, tmp_path):
    """Each form (in-process, and `--cdp-port` through the CLI: one sentence, exit 3) against a server
    that drips a byte a second. They run at the same time: each waits out its own 5 s deadline."""
    port, _ = slow_server
    env = dict(os.environ, GROK_TUI_STATE_DIR=str(tmp_path / "state"), GROK_TUI_CONFIG_FILE=str(tmp_path / "none.toml"))
    cli = subprocess.Popen([sys.executable, "-m", "grok_tui", "run", "--no-ui", "--prompt", "x", "--cdp-port", str(port)],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results: dict[str, tuple[float, object]] = {}

    def attach(name: str) -> None:
        link = BrowserLink(emit=lambda ev: None, endpoint=DRIPPING_FORMS[name](port))
        t0 = time.monotonic()
        try:
            link.attach()
            outcome: object = "attached"
        except BrowserError as exc:
            outcome = exc
        results[name] = (time.monotonic() - t0, outcome)

    threads = [threading.Thread(target=attach, args=(name,)) for name in DRIPPING_FORMS]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    try:
        out, err = cli.communicate(timeout=60)
    finally:
        if cli.poll() is None:
            cli.kill()
    assert set(results) == set(DRIPPING_FORMS)
    for name, (took, outcome) in results.items():
        assert isinstance(outcome, BrowserError), (name, outcome)
        assert took <= 6.0, (name, took)
        assert "within 5 s" in str(outcome) or "longer than 5 s" in str(outcome), (name, outcome)
    p = subprocess.CompletedProcess(cli.args, cli.returncode, out, err)
    assert p.returncode == 3
    assert "/json/version did not answer within 5 s" in one_sentence(p)


def test_refused_permission_prompt(slow_server, tmp_path):
    port, mode = slow_server
    mode["kind"] = "refuse"
    p = grok("run", "--no-ui", "--prompt", "x", "--cdp-url", f"ws://127.0.0.1:{port}/devtools/browser/x", tmp_path=tmp_path)
    assert p.returncode == 3
    assert "Chrome refused the DevTools connection" in one_sentence(p)
    waiting = [json.loads(line) for line in p.stdout.splitlines()]
    assert any(w["event"] == "waiting" and "allow the connection in Chrome" in w["message"] for w in waiting), p.stdout


def test_a_silent_permission_prompt_is_bounded_and_said_while_waiting(tmp_path):
    """Chrome holds the handshake while it asks the user; nobody answers: `waiting` at once,
    then one sentence and exit 3 after --permission-wait (default 30 s, not 60)."""
    from grok_tui.browser.cdp import PERMISSION_WAIT_S
    from grok_tui.settings import Settings

    assert PERMISSION_WAIT_S == Settings().permission_wait_s == 30.0
    assert BrowserLink(emit=lambda ev: None).permission_wait_s == 30.0
    srv = socket.create_server(("127.0.0.1", 0))
    held = []
    threading.Thread(target=lambda: held.append(srv.accept()), daemon=True).start()  # accepts, never answers
    try:
        port = srv.getsockname()[1]
        t0 = time.monotonic()
        p = grok("run", "--no-ui", "--prompt", "x", "--cdp-url", f"ws://127.0.0.1:{port}/devtools/browser/x",
                 "--permission-wait", "2", tmp_path=tmp_path)
        took = time.monotonic() - t0
    finally:
        srv.close()
    assert p.returncode == 3
    assert one_sentence(p) == (
        f"grok-tui: Chrome did not let grok-tui connect to 127.0.0.1:{port} within 2 s: allow the connection when "
        "Chrome asks (remote debugging must be on at chrome://inspect/#remote-debugging), then try again."
    )
    [waiting] = [json.loads(line) for line in p.stdout.splitlines()]
    assert waiting["event"] == "waiting" and waiting["message"].startswith("allow the connection in Chrome")
    assert waiting["message"].endswith("waiting up to 2 s")
    assert took < 2 + 8, took  # interpreter start-up, then the 2 s wait


async def test_the_app_says_allow_the_connection_while_waiting_then_why_not(seen, tmp_path):
    from textual.widgets import Static

    from grok_tui.settings import load_settings
    from grok_tui.store import StateStore
    from grok_tui.ui.app import make_app

    srv = socket.create_server(("127.0.0.1", 0))
    held = []
    threading.Thread(target=lambda: held.append(srv.accept()), daemon=True).start()  # accepts, never answers
    port = srv.getsockname()[1]
    settings = load_settings(cdp_url=f"ws://127.0.0.1:{port}/devtools/browser/x", permission_wait_s=2, tab="/imagine/post/")
    app = make_app(settings, store=StateStore(tmp_path / "state"), link_factory=BrowserLink)
    try:
        async with app.run_test(size=(120, 36), message_hook=seen) as pilot:
            header = app.query_one("#conn-line1", Static)
            deadline = time.monotonic() + 10
            while "allow the connection in Chrome" not in str(header.render()):
                assert time.monotonic() < deadline, (str(header.render()), [n.message for n in seen.notifications()])
                await pilot.pause(0.05)
            assert any(n.title == "Chrome is asking" and "waiting up to 2 s" in n.message for n in seen.notifications())
            while not any(n.title == "Not attached to Chrome" for n in seen.notifications()):
                assert time.monotonic() < deadline + 5
                await pilot.pause(0.05)
            [why] = [n for n in seen.notifications() if n.title == "Not attached to Chrome"]
            assert why.message.startswith(f"Chrome did not let grok-tui connect to 127.0.0.1:{port} within 2 s")
            assert "allow the connection in Chrome" not in str(header.render())
    finally:
        srv.close()


def test_the_header_names_the_endpoint():
    from grok_tui.browser.signals import AttachInfo, TabIdentity
    from grok_tui.ui.render import connection_markup

    ident = TabIdentity(url="http://127.0.0.1:1/imagine/post/abc", title="Grok", post_id="abc", media_id="abc")
    info = AttachInfo(host="127.0.0.1", port=41234, browser="Chrome/144.0.1", protocol="1.3", target_id="T",
                      identity=ident, matched=1, pages=1, attach_ms=1.0,
                      endpoint="127.0.0.1:41234 via DevToolsActivePort in /home/me/.config/google-chrome")
    _line1, line2 = connection_markup(True, "", info, ident, "abc")
    assert "127.0.0.1:41234 via DevToolsActivePort in /home/me/.config/google-chrome" in line2
    _line1, line2 = connection_markup(True, "", dataclasses.replace(info, endpoint=""), ident, "abc")
    assert " via " not in line2


# ----------------------------------------------------------------------------- nothing given


def test_nothing_given_finds_a_usual_profile(tmp_path):
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        home = tmp_path / "home"
        chrome_dir = usual_profile_dirs(home, env={}, platform="linux")[0]
        assert chrome_dir == home / ".config" / "google-chrome"
        chrome_dir.mkdir(parents=True)
        port = listener.getsockname()[1]
        (chrome_dir / "DevToolsActivePort").write_text(f"{port}\n/devtools/browser/abc")
        dirs = usual_profile_dirs(home, env={}, platform="linux")
        ep = resolve(EndpointSpec(port_given=False), profile_dirs=dirs, default_port=free_port())
        assert ep.ws_url == f"ws://127.0.0.1:{port}/devtools/browser/abc"
        assert ep.how == f"DevToolsActivePort in {chrome_dir}"
    finally:
        listener.close()


def test_usual_profile_dirs_per_os(tmp_path):
    mac = usual_profile_dirs(tmp_path, env={}, platform="darwin")
    win = usual_profile_dirs(tmp_path, env={"LOCALAPPDATA": "C:/Users/me/AppData/Local"}, platform="win32")
    assert tmp_path / "Library" / "Application Support" / "Google" / "Chrome Canary" in mac
    assert Path("C:/Users/me/AppData/Local/Google/Chrome SxS/User Data") in win
    assert Path("C:/Users/me/AppData/Local/BraveSoftware/Brave-Browser/User Data") in win
    assert any("microsoft-edge" in str(p) for p in usual_profile_dirs(tmp_path, env={}, platform="linux"))


def test_help_puts_the_everyday_chrome_first(tmp_path):
    p = grok("--help", tmp_path=tmp_path)
    assert p.returncode == 0
    everyday = p.stdout.index("Use your everyday Chrome (Chrome 144+)")
    assert "chrome://inspect/#remote-debugging" in p.stdout and "--chrome-profile" in p.stdout
    assert everyday < p.stdout.index("grok-tui chrome")
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert readme.index("### Use your everyday Chrome (Chrome 144+)") < readme.index("### Or a dedicated profile (`grok-tui chrome`)")
