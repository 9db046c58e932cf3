"""Start-up (issue 15): a `grok-tui run --no-ui` process attaches without loading what its path does not use.

A fresh process runs the real command line against the sim in headless Chromium; when the
`attached` line is printed it records which modules are loaded, then imports pychrome as a
whole and checks the live connection still works with the same classes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = r"""
import gc, json, os, sys
import grok_tui.headless as h

emit = h.JsonPrinter.emit

AT = {}

def probe(self, obj):
    emit(self, obj)
    if AT:  # the first line after `attached`: the session runs with the collector on, the start-up frozen
        AT.update(gc_after=gc.isenabled(), frozen=gc.get_freeze_count())
        sys.stderr.write(json.dumps(AT) + "\n")
        sys.stderr.flush()
        os._exit(0)
    if obj.get("event") != "attached":
        return
    AT["gc_at_attached"] = gc.isenabled()  # the start-up ran without the collector
    loaded = sorted(sys.modules)
    tok = sys.modules.get("tokenize")  # its regexes compile on first use (~5 ms): a builtin's signature read
    tokenized = tok._compile.cache_info().currsize if tok and hasattr(tok._compile, "cache_info") else 0
    from grok_tui.browser import cdp
    import pychrome  # the whole package now (its __init__ too), after the transport loaded its tab module
    transport = cdp._socket_class()
    same = issubclass(transport, pychrome.Tab) and transport.TimeoutException is pychrome.TimeoutException
    conn = next(c for c in __import__("gc").get_objects() if isinstance(c, cdp.Connection) and c.alive)
    answer = conn.call("Browser.getVersion", timeout=5)
    conns = [c for c in __import__("gc").get_objects() if isinstance(c, cdp.Connection) and c.alive]
    loader = sys.modules.get("pydantic.plugin._loader")  # its _plugins stays None until it scans the entry points
    scanned = getattr(loader, "_plugins", None) is not None
    sys.stderr.write(json.dumps({"loaded": loaded, "tokenized": tokenized, "same": same, "product": answer.get("product", ""),
                                 "plugins_scanned": scanned,
                                 "connections": len(conns)}) + "\n")
    sys.stderr.flush()

h.JsonPrinter.emit = probe
from grok_tui.cli import main
sys.exit(main(sys.argv[1:]))
"""

# Not on the headless run's path to `attached`: the UI, pychrome's HTTP client (grok-tui does its own
# discovery requests), the sim, the commands' and features' modules a run does not use up to there, and
# Python's IDNA codec (loaded by getaddrinfo for a str host; grok-tui passes an ASCII host as bytes), and the TOML
# parser (there is no config file here).
NOT_LOADED = ["textual", "rich", "requests", "urllib3", "charset_normalizer", "pychrome.browser", "grok_tui.sim",
              "grok_tui.ui", "grok_tui.export", "grok_tui.batch", "grok_tui.batch_runner", "grok_tui.history_cli",
              "grok_tui.doctor", "grok_tui.browser.probe", "grok_tui.browser.launcher", "difflib",
              "encodings.idna", "stringprep", "unicodedata", "tomllib"]


def test_headless_run_attaches_without_loading_what_it_does_not_use(rigs):
    rig = rigs("silent")
    cmd = [sys.executable, "-c", PROBE, "run", "--no-ui", "--cdp-port", str(rig.chrome.port), "--tab", "/imagine/post/",
           "--prompt", "a fox", "--timeout", "60"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr[-2000:]
    assert json.loads(p.stdout.splitlines()[0])["event"] == "attached"
    report = json.loads(p.stderr.strip().splitlines()[-2])
    collector = json.loads(p.stderr.strip().splitlines()[-1])
    assert collector["gc_at_attached"] is False and collector["gc_after"] is True and collector["frozen"] > 10_000
    loaded = set(report["loaded"])
    assert {"pychrome.tab", "grok_tui.runner", "grok_tui.browser.link"} <= loaded
    assert [m for m in NOT_LOADED if m in loaded] == []
    assert report["tokenized"] == 0  # nothing parsed a signature from text (pydantic and a builtin default factory)
    assert report["plugins_scanned"] is False  # pydantic did not look through every package's entry points for plugins
    # pychrome loaded in full afterwards uses the transport's own classes, and the connection still answers
    assert report["same"] is True
    assert report["product"].startswith(("HeadlessChrome/", "Chrome/"))
    assert report["connections"] == 1  # one browser connection


def test_pydantic_plugins_are_off_unless_the_user_says_otherwise(monkeypatch):
    import grok_tui.settings as settings_mod
    from grok_tui.cli import main

    seen = []

    def load_settings(**_kw):  # records the switch while the command builds its settings, then stops it there
        seen.append(os.environ.get("PYDANTIC_DISABLE_PLUGINS"))
        raise settings_mod.SettingsError("stop here")

    monkeypatch.setattr(settings_mod, "load_settings", load_settings)
    monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS", raising=False)
    assert main(["run", "--cdp-port", "9"]) == 3
    assert seen == ["__all__"]  # on while the models are built
    assert "PYDANTIC_DISABLE_PLUGINS" not in os.environ  # and main leaves the environment as it found it
    assert main(["run", "--goal", "many"]) == 3  # a usage error: returns before anything loads
    assert "PYDANTIC_DISABLE_PLUGINS" not in os.environ
    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", "some_plugin")
    assert main(["run", "--cdp-port", "9"]) == 3
    assert seen == ["__all__", "some_plugin"]
    assert os.environ["PYDANTIC_DISABLE_PLUGINS"] == "some_plugin"  # the user's own value stays


def test_chrome_started_by_grok_tui_does_not_inherit_the_plugin_switch(monkeypatch):
    import grok_tui.browser.launcher as launcher
    from grok_tui.cli import main

    seen = []

    def launch_chrome(*_a, **_kw):
        seen.append(os.environ.get("PYDANTIC_DISABLE_PLUGINS"))
        raise launcher.LaunchError("not started")

    monkeypatch.setattr(launcher, "launch_chrome", launch_chrome)
    monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS", raising=False)
    assert main(["chrome", "--headless", "--port", "9"]) == 3
    assert main(["demo", "--no-ui"]) == 3
    assert seen == [None, None]  # Popen's default environment is os.environ: the child would not get it
    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", "some_plugin")
    assert main(["chrome", "--headless", "--port", "9"]) == 3
    assert seen == [None, None, "some_plugin"]  # the user's own value is passed on as before


def test_run_follows_the_config_file_when_it_names_another_endpoint(rigs, tmp_path):
    """The config file names the browser by URL, which wins over the command line's (dead) port: the run attaches there."""
    from grok_tui.browser.launcher import free_port

    rig = rigs("silent")
    (tmp_path / "config.toml").write_text(f'cdp_url = "http://127.0.0.1:{rig.chrome.port}"\n')
    cmd = [sys.executable, "-c", PROBE, "run", "--no-ui", "--cdp-port", str(free_port()), "--tab", "/imagine/post/",
           "--prompt", "a fox", "--timeout", "60"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr[-2000:]
    assert json.loads(p.stdout.splitlines()[0])["event"] == "attached"
    report = json.loads(p.stderr.strip().splitlines()[-2])
    assert report["connections"] == 1



def test_connection_opened_ahead_is_taken_over_by_the_link(rigs):
    """`grok-tui` opens the browser connection while the UI loads; the runner's link attaches on it, no second one."""
    from grok_tui.browser import link as link_mod
    from grok_tui.browser.endpoint import EndpointSpec, preflight

    rig = rigs("")
    spec = EndpointSpec(port=rig.chrome.port)
    link_mod.warm_up(spec, preflight(spec, "/imagine/post/"))
    opened = link_mod._warm[spec].result(timeout=10)[2].conn
    changes = []
    link = link_mod.BrowserLink(endpoint=spec, tab_match="/imagine/post/", emit=changes.append)
    try:
        info = link.attach()
        assert info.identity.post_id == rig.site.post_id
        assert link._tabs.conn is opened and opened.alive
        assert spec not in link_mod._warm  # taken once
        assert link._tabs.on_change == link._tabs_changed  # the tab list now reports to this link
    finally:
        link.close()


def test_connection_opened_ahead_that_failed_leaves_the_link_its_own_error():
    from grok_tui.browser import link as link_mod
    from grok_tui.browser.cdp import NothingListening
    from grok_tui.browser.endpoint import EndpointSpec
    from grok_tui.browser.launcher import free_port

    spec = EndpointSpec(port=free_port())
    link_mod.warm_up(spec)
    link = link_mod.BrowserLink(endpoint=spec, tab_match="/imagine/post/", emit=lambda _e: None)
    try:
        with pytest.raises(NothingListening):
            link.attach()
        assert spec not in link_mod._warm
    finally:
        link.close()


APP_PROBE = r"""
import asyncio, json, sys
from grok_tui.settings import load_settings
from grok_tui.ui.app import make_app

async def main():
    app = make_app(load_settings(cdp_port=9, tab="/imagine/post/"), attach=False)
    async with app.run_test(size=(110, 34)) as pilot:
        await pilot.pause()
        shown = "not attached" in str(app.query_one("#conn-line1").render())  # the first screen is drawn
        print(json.dumps({"shown": shown, "loaded": sorted(sys.modules)}))

asyncio.run(main())
"""

# Not on the app's path to its first frame: the dialogs, Textual's TextArea (only the prompt dialog has one),
# the history screen, the sim and requests.
APP_NOT_LOADED = ["grok_tui.ui.modals", "textual.widgets._text_area", "grok_tui.ui.history", "grok_tui.ui.queue",
                  "grok_tui.ui.doctor", "grok_tui.sim", "requests"]


def test_app_first_frame_without_the_dialogs():
    p = subprocess.run([sys.executable, "-c", APP_PROBE], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr[-2000:]
    report = json.loads(p.stdout.strip().splitlines()[-1])
    assert report["shown"] is True
    assert [m for m in APP_NOT_LOADED if m in report["loaded"]] == []


def test_cli_loads_a_command_s_modules_when_it_runs():
    """`grok-tui --help` and argument errors need only argparse: the headless run's modules load with `run`."""
    code = ("import sys, grok_tui.cli as c, grok_tui.headless as h; "
            "print(int(c.EXIT_CANNOT_START == h.EXIT_CANNOT_START)) if 'asyncio' not in before else print(-1)")
    p = subprocess.run([sys.executable, "-c", "import sys; import grok_tui.cli; before = set(sys.modules); " + code],
                       capture_output=True, text=True, timeout=60)
    assert p.stdout.strip() == "1", p.stderr[-2000:]


TUI_PROBE = r"""
import gc, json, sys
import grok_tui.cli as cli

seen = {}
build = cli._build_app

def probe_build(*a, **k):
    seen["while_loading"] = gc.isenabled()
    return build(*a, **k)

def probe_exit(app):
    seen.update(when_run=gc.isenabled(), app=type(app).__name__)
    print(json.dumps(seen))
    return 0

cli._build_app, cli._exit_of = probe_build, probe_exit
sys.exit(cli.main(sys.argv[1:]))
"""


def test_app_loads_without_the_collector_and_runs_with_it(rigs):
    rig = rigs("")
    p = subprocess.run([sys.executable, "-c", TUI_PROBE, "--cdp-port", str(rig.chrome.port), "--tab", "/imagine/post/"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr[-2000:]
    assert json.loads(p.stdout.strip().splitlines()[-1]) == {"while_loading": False, "when_run": True, "app": "GrokApp"}
