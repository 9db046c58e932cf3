"""Bad input: one clear sentence on stderr, a non-zero exit, never a traceback."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from grok_tui.browser.launcher import free_port


def grok(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "grok_tui", *args], env=full_env, capture_output=True, text=True, timeout=timeout
    )


def run_once(rigs) -> subprocess.CompletedProcess:
    """`grok-tui run --no-ui` for one video against a fresh sim site."""
    rig = rigs("ok")
    try:
        return grok(
            "run", "--no-ui", "--prompt", "x", "--cdp-port", str(rig.chrome.port), "--tab", "/imagine/post/",
            env={"GROK_TUI_COOLDOWN_S": "0.3"},
        )
    finally:
        rig.close()


def one_sentence(p: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("grok-tui: ")
    return lines[0]


@pytest.fixture
def not_chrome():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<html>hello, I am a web server</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


@pytest.mark.parametrize("command", [["run", "--no-ui", "--prompt", "x"], []])
def test_nothing_listening(command):
    port = free_port()
    p = grok(*command, "--cdp-port", str(port))
    assert p.returncode == 3
    msg = one_sentence(p)
    assert f"Nothing is listening on 127.0.0.1:{port}" in msg
    assert "grok-tui chrome" in msg


@pytest.mark.parametrize("host", ["a..b", "b\u00fc..x"])
def test_host_that_cannot_be_a_name(host):
    """An empty label: not a name any resolver knows (it was a UnicodeError traceback from Python's IDNA codec)."""
    p = grok("run", "--no-ui", "--prompt", "x", "--cdp-host", host, "--allow-remote-cdp", "--cdp-port", "9")
    assert p.returncode == 3
    assert f"Nothing is listening on {host}:9" in one_sentence(p)


def test_port_is_not_chrome(not_chrome):
    p = grok("run", "--no-ui", "--prompt", "x", "--cdp-port", str(not_chrome))
    assert p.returncode == 3
    assert "is not a Chrome DevTools endpoint" in one_sentence(p)


def test_no_matching_tab(rigs):
    rig = rigs("ok")
    try:
        p = grok("run", "--no-ui", "--prompt", "x", "--cdp-port", str(rig.chrome.port), "--tab", "grok.com/imagine")
        assert p.returncode == 3
        msg = one_sentence(p)
        assert "No open tab's URL contains 'grok.com/imagine'" in msg
        assert rig.site.base_url in msg  # it lists what there is
    finally:
        rig.close()


def test_several_matching_tabs_take_first_and_say_so(rigs):
    rig = rigs("ok")
    try:
        import urllib.request

        req = urllib.request.Request(
            f"http://127.0.0.1:{rig.chrome.port}/json/new?{rig.site.post_url()}", method="PUT"
        )
        urllib.request.urlopen(req, timeout=5).read()
        p = grok(
            "run", "--no-ui", "--prompt", "x", "--cdp-port", str(rig.chrome.port), "--tab", "/imagine/post/",
            env={"GROK_TUI_COOLDOWN_S": "0.3"},
        )
        assert p.returncode == 0, p.stderr
        lines = [json.loads(line) for line in p.stdout.splitlines()]
        assert lines[0]["event"] == "attached" and lines[0]["matched"] == 2
        assert any(l["event"] == "log" and "2 tabs match" in l["message"] for l in lines), lines[:5]
    finally:
        rig.close()


@pytest.mark.parametrize(
    "args,env,needle",
    [
        (["--goal", "0"], {}, "video_goal (flag --goal, env GROK_TUI_VIDEO_GOAL) must be a whole number from 1 to 50, not 0."),
        (["--max-retries", "51"], {}, "max_retries (flag --max-retries, env GROK_TUI_MAX_RETRIES) must be a whole number from 1 to 50, not 51."),
        ([], {"GROK_TUI_MAX_RETRIES": "99"}, "max_retries (flag --max-retries, env GROK_TUI_MAX_RETRIES) must be a whole number from 1 to 50, not '99'."),
        ([], {"GROK_TUI_COOLDOWN_S": "soon"}, "cooldown_s (flag --cooldown, env GROK_TUI_COOLDOWN_S) must be a number from 0.05 to 600, not 'soon'."),
        ([], {"GROK_TUI_CDP_PORT": "70000"}, "cdp_port (flag --cdp-port, env GROK_TUI_CDP_PORT) must be a whole number from 1 to 65535"),
        (["--cdp-host", "192.168.1.20"], {}, "is not this machine; a DevTools port is full control of the browser, so pass --allow-remote-cdp"),
    ],
)
def test_out_of_range_settings(args, env, needle):
    p = grok("run", "--no-ui", "--prompt", "x", *args, env=env)
    assert p.returncode == 3
    assert needle in one_sentence(p)


def test_bad_value_in_config_file(tmp_path):
    cfg = Path(os.environ["GROK_TUI_CONFIG_FILE"])
    cfg.write_text("video_goal = 77\n")
    p = grok("run", "--no-ui", "--prompt", "x")
    assert p.returncode == 3
    assert "video_goal" in one_sentence(p) and "from 1 to 50, not 77" in p.stderr


def test_malformed_config_file():
    cfg = Path(os.environ["GROK_TUI_CONFIG_FILE"])
    cfg.write_text("video_goal = = 3\n")
    p = grok("run", "--no-ui", "--prompt", "x")
    assert p.returncode == 3
    msg = one_sentence(p)
    assert "is not valid TOML" in msg and str(cfg) in msg


def test_flag_beats_env_beats_file():
    from grok_tui.settings import load_settings

    Path(os.environ["GROK_TUI_CONFIG_FILE"]).write_text(
        'max_retries = 7\nvideo_goal = 4\ncooldown_s = 2.5\ntheme = "grok-light"\n\n[keymap]\nstart = "f5"\n'
    )
    os.environ["GROK_TUI_MAX_RETRIES"] = "9"
    try:
        s = load_settings(max_retries=11)
        assert (s.max_retries, s.video_goal, s.cooldown_s) == (11, 4, 2.5)
        assert (s.theme, s.keymap) == ("grok-light", {"start": "f5"})
        s = load_settings()
        assert s.max_retries == 9
    finally:
        del os.environ["GROK_TUI_MAX_RETRIES"]


def test_grok_pace_floor_for_non_local_pages():
    from grok_tui.settings import load_settings

    s = load_settings(cooldown_s=0.5, next_video_delay_s=1)
    assert s.timings("http://127.0.0.1:8765/imagine/post/x").cooldown_s == 0.5
    t = s.timings("https://grok.com/imagine/post/abc")
    assert (t.cooldown_s, t.next_video_delay_s) == (8.0, 8.0)


def test_corrupt_state_and_history_are_kept_aside(rigs):
    state = Path(os.environ["GROK_TUI_STATE_DIR"])
    state.mkdir(parents=True, exist_ok=True)
    (state / "state.json").write_text("{not json")
    (state / "history.jsonl").write_text('{"outcome": "success", "creditsUsed": 1}\n{garbage\n')
    p = run_once(rigs)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    assert "state file" in p.stderr and "was corrupt" in p.stderr
    kept = sorted(x.name for x in state.iterdir() if ".corrupt-" in x.name)
    assert any(k.startswith("state.json.corrupt-") for k in kept)
    assert (state / [k for k in kept if k.startswith("state.json")][0]).read_text() == "{not json"
    # the state was rewritten atomically, and is valid JSON now
    assert json.loads((state / "state.json").read_text())["last"]["lastPromptValue"] == "x"
    from grok_tui.store import StateStore

    store = StateStore(state)
    hist = store.history()
    assert [h["outcome"] for h in hist] == ["success", "success"]
    assert any("history file" in w for w in store.warnings)
    assert any(k.startswith("history.jsonl.corrupt-") for k in (x.name for x in state.iterdir()))


def test_state_files_are_private(rigs):
    p = run_once(rigs)
    assert p.returncode == 0
    state = Path(os.environ["GROK_TUI_STATE_DIR"])
    files = [state / "state.json", state / "history.jsonl", *(state / "logs").iterdir()]
    for f in files:
        assert f.stat().st_mode & 0o077 == 0, f


def test_empty_prompt_is_refused(rigs):
    rig = rigs("ok")
    try:
        p = grok("run", "--no-ui", "--prompt", "   ", "--cdp-port", str(rig.chrome.port), "--tab", "/imagine/post/")
    finally:
        rig.close()
    assert p.returncode == 3
    assert "The prompt is empty" in one_sentence(p)
    assert rig.site.requests == []


def test_unknown_options():
    p = grok("--frobnicate")
    assert p.returncode == 2 and "unrecognized arguments: --frobnicate" in p.stderr
    assert "Traceback" not in p.stderr
    p = grok("run", "--frobnicate")
    assert p.returncode == 3 and "unrecognized arguments: --frobnicate" in p.stderr
    p = grok("run", "--goal", "three")
    assert p.returncode == 3 and "invalid int value" in p.stderr


def test_help_explains():
    p = grok("--help")
    assert p.returncode == 0
    for needle in ("grok-tui chrome", "GROK_TUI_", "exit codes", "demo"):
        assert needle in p.stdout
    p = grok("run", "--help")
    assert p.returncode == 0 and "--max-retries" in p.stdout and "summary" in p.stdout
