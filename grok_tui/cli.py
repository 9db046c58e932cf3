"""Command line: parses the arguments and dispatches to the UI, a headless run or batch, the demo, the sim, Chrome, the history or the page check."""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import textwrap
from typing import Any, Sequence

# The commands' modules (the headless run's asyncio and notices, the settings' pydantic, ...) load when one
# runs, after the arguments are parsed: `run` loads them with the collector off (see _cmd_run).
from .exitcodes import EXIT_CANNOT_START

COMMANDS = ("tui", "run", "batch", "demo", "sim", "chrome", "history", "doctor")
DEMO_SCRIPT = "ok,mod@40,mod@92,ok,mod@10,ok"

DESCRIPTION = """\
Drive Grok Imagine video sessions in your own Chrome over the DevTools protocol.

grok-tui attaches to your Chrome, types your prompt into the Grok Imagine
tab, clicks "Make video", watches the network stream and the page for the
outcome, retries moderated videos (never changing your prompt), stops at once
on a rate limit, and ends with a summary.

Use your everyday Chrome (Chrome 144+): open chrome://inspect/#remote-debugging,
switch remote debugging on, open an image post under grok.com/imagine, then run
`grok-tui` (it looks on 127.0.0.1:9222 and in the usual Chrome profiles) or
`grok-tui --chrome-profile <Chrome's user-data folder>`; allow the connection
when Chrome asks.

Or a dedicated profile: `grok-tui chrome` starts Chrome with remote debugging
on its own profile (log in to grok.com there once), then `grok-tui --cdp-port 9222`.
No Grok account? `grok-tui demo` runs a whole session against the built-in
simulated site in a headless Chromium.
"""

EPILOG = """\
settings: every option can also be set as GROK_TUI_<NAME> (e.g. GROK_TUI_COOLDOWN_S=8)
or in the TOML config file (GROK_TUI_CONFIG_FILE overrides its path); flags win over the
environment, which wins over the file. Against grok.com the cooldown and next-video delay
never go below 8 s.

exit codes of `run`: 0 success, 1 failure (retries exhausted), 2 cancelled (user, rate
limit, timeout, browser gone), 3 could not start (cannot attach, bad arguments).
Other commands exit 2 on bad arguments (argparse's convention).
"""


class UsageError(Exception):
    def __init__(self, parser: argparse.ArgumentParser, message: str):
        super().__init__(message)
        self.parser = parser


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # type: ignore[override]
        raise UsageError(self, message)


def _browser_options(p: argparse.ArgumentParser) -> None:
    S = argparse.SUPPRESS
    g = p.add_argument_group("browser (first given wins; none: 127.0.0.1:9222, then the usual Chrome profiles)")
    g.add_argument("--cdp-url", default=S, help="ws://127.0.0.1:PORT/devtools/browser/ID as is, or http://HOST:PORT")
    g.add_argument("--chrome-profile", default=S, metavar="DIR", help="a Chrome user-data folder; its DevToolsActivePort names the endpoint")
    g.add_argument("--cdp-host", default=S, help="host of Chrome's DevTools port (default 127.0.0.1)")
    g.add_argument("--cdp-port", type=int, default=S, help="Chrome's --remote-debugging-port (default 9222)")
    g.add_argument("--tab", default=S, help="attach to the first tab whose URL contains this (default grok.com/imagine)")
    g.add_argument("--allow-remote-cdp", action="store_true", default=S, help="allow a non-loopback --cdp-host / --cdp-url")
    g.add_argument("--permission-wait", dest="permission_wait_s", type=float, default=S, metavar="S",
                   help="seconds to wait while Chrome asks you to allow the connection (default 30)")


def _session_options(p: argparse.ArgumentParser) -> None:
    S = argparse.SUPPRESS
    _browser_options(p)
    g = p.add_argument_group("session")
    g.add_argument("--goal", dest="video_goal", type=int, default=S, help="videos to generate, 1-50 (default 1)")
    g.add_argument("--max-retries", type=int, default=S, help="retries after moderations, 1-50 (default 3)")
    g.add_argument("--no-auto-retry", dest="auto_retry", action="store_false", default=S, help="do not retry moderated videos by themselves")
    g.add_argument("--cooldown", dest="cooldown_s", type=float, default=S, help="seconds between clicks and before a retry (default 8)")
    g.add_argument("--next-video-delay", dest="next_video_delay_s", type=float, default=S, help="seconds between a success and the next video (default 8)")
    g.add_argument("--timeout", dest="session_timeout_s", type=float, default=S, help="cancel when an attempt has no outcome this long (default 120)")
    g.add_argument("--tab-wait", dest="tab_wait_s", type=float, default=S, help="seconds to wait for a lost tab to come back (default 30)")
    g.add_argument("--theme", default=S, help="theme name (default grok-dark)")
    g = p.add_argument_group("downloads and options")
    g.add_argument("--downloads", dest="downloads_dir", metavar="DIR", default=S, help="save videos here (default: XDG download dir/grok-tui)")
    g.add_argument("--no-download", dest="download", action="store_false", default=S, help="do not save the videos")
    g.add_argument("--download-name", metavar="TEMPLATE", default=S, help="file name template (default {date}_{post8}_{n:02d}_{video8})")
    g.add_argument("--allow-option-change", action="store_true", default=S, help="only warn when a retry's generation options differ from the first attempt's")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="grok-tui",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"grok-tui {__version__}")
    _session_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    p = sub.add_parser("tui", help="the terminal UI (the default command)", formatter_class=argparse.RawDescriptionHelpFormatter)
    _session_options(p)

    p = sub.add_parser(
        "run",
        help="run one session without the UI, printing JSON Lines",
        description="Run one session and print one JSON object per event; the last line is the summary.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _session_options(p)
    p.add_argument("--no-ui", action="store_true", help="accepted for clarity: `run` never opens the UI")
    p.add_argument("--prompt", help="the prompt (default: the page's editor text, else the last one used)")

    p = sub.add_parser(
        "batch",
        help="run a batch file of jobs (post x prompt) without the UI, printing JSON Lines",
        description="Run every job of FILE (.toml [[job]] tables, .csv post,prompt[,goal][,max_retries], or .txt "
        "prompts separated by blank lines for --post), one session each, on the chosen tab.",
        epilog="exit codes: 0 every job succeeded, 1 all jobs ran and at least one did not succeed, 2 stopped with "
        "jobs pending (rate limit, you, browser gone), 3 could not start (bad file, cannot attach).",
    )
    _session_options(p)
    p.add_argument("file", metavar="FILE", help="the batch file")
    p.add_argument("--resume", action="store_true", help="continue where the last run of FILE stopped")
    p.add_argument("--post", help="the post (URL or id) of a plain-text batch's prompts")

    p = sub.add_parser("demo", help="a whole session against the simulated site in a headless Chromium")
    _session_options(p)
    p.add_argument("--script", default=DEMO_SCRIPT, help=f"simulated outcomes, e.g. ok,mod@40,rate,silent (default {DEMO_SCRIPT})")
    p.add_argument("--step-ms", type=int, default=250, help="simulated progress step in ms (default 250)")
    p.add_argument("--no-ui", action="store_true", help="print JSON Lines instead of opening the UI")
    p.add_argument("--prompt", default="a red fox running through snow, slow motion, cinematic", help="the demo prompt")

    p = sub.add_parser("sim", help="serve the simulated Grok Imagine site (for trying things by hand)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--script", default="", help="outcomes per attempt, e.g. ok,mod@40,rate,silent (then ok)")
    p.add_argument("--editor", choices=("textarea", "prosemirror"), default="textarea")
    p.add_argument("--step-ms", type=int, default=400)
    p.add_argument(
        "--knob",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a page knob (repeatable): cover_toast_ms=N (a toast covers the button N ms after each generation), "
        "mouseup_hang_ms=N (the button's mouseup handler hangs N ms), toast_readd_ms=N or LO-HI (a moderation "
        "toast is re-added without data-ts), moderated_text=TEXT / rate_text=TEXT (backslash escapes allowed), "
        "no_toasts=true (moderations only in the stream and store), redo_resets=videoLength:6 (Redo resets "
        "that option), busy_clicks=true (a click during a generation starts another); see grok_tui.sim.SimSite",
    )
    p.add_argument("--markup", choices=("grok", "changed"), default="grok",
                   help="changed: Grok changed its page (other editor / button labels, another toast container)")
    p.add_argument("--image-posts", type=int, default=1, metavar="N", help="how many image posts (default 1)")
    p.add_argument("--video-size", type=int, default=0, metavar="BYTES", help="pad each served MP4 to this size")

    p = sub.add_parser(
        "chrome",
        help="start Chrome with remote debugging on a dedicated profile and open grok.com/imagine",
        description=textwrap.dedent(
            """\
            Start your Chrome/Chromium with --remote-debugging-port on a dedicated profile
            directory (Chrome 136+ ignores the port on the default profile). Log in to
            grok.com once in that window; the profile keeps the login for next time."""
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--port", type=int, default=9222)
    p.add_argument("--profile", default=None, help="profile directory (default: <XDG data dir>/chrome-profile)")
    p.add_argument("--url", default="https://grok.com/imagine")
    p.add_argument("--browser", default=None, help="browser executable (default: first Chrome/Chromium on PATH)")
    p.add_argument("--headless", action="store_true", help="no window (for testing)")

    p = sub.add_parser(  # the command's module (grok_tui.history_cli) loads when it runs
        "history",
        help="the recorded sessions, newest first (text, CSV or JSON Lines)",
        description="Print the recorded sessions, newest first: a table, CSV with a header (--csv) or "
        "JSON Lines (--json). Skipped corrupt history lines are counted on stderr.",
    )
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", dest="format", action="store_const", const="json", help="JSON Lines, one session a line")
    fmt.add_argument("--csv", dest="format", action="store_const", const="csv", help="CSV with a header row")
    p.add_argument("--since", metavar="DATE", help="only sessions that ended on or after DATE (YYYY-MM-DD, local time)")
    p.add_argument("--prompt", metavar="TEXT", help="only sessions whose prompt contains TEXT (case-insensitive)")
    p.set_defaults(format="text")

    p = sub.add_parser(
        "doctor",
        help="check the tab for every signal a session needs; say what to put in [selectors] when Grok changed its page",
        description="Attach to the chosen tab and report, one row per signal, found / missing / how; for a missing one, "
        "the candidates on the page and the [selectors] lines that would use them. Nothing is sent or clicked: the "
        "editor test writes a marker and puts your text back exactly.",
        epilog="exit codes: 0 every essential signal found (editor, button, image id), 1 one is missing, 3 cannot attach.",
    )
    _browser_options(p)
    p.add_argument("--json", action="store_true", help="one JSON object instead of the table (for scripts)")
    return parser


def _command_of(argv: Sequence[str]) -> str:
    for a in argv:
        if a in COMMANDS:
            return a
    return "tui"


PLUGINS_SWITCH = "PYDANTIC_DISABLE_PLUGINS"
_switch_ours = False  # main set PLUGINS_SWITCH (the user had not)


def _plugins_off() -> None:
    """grok-tui's models (settings, store, themes) use no pydantic plugin: without the switch, building the first one
    scans every installed package's entry points for plugins (~3.5 ms of each start). A value set by the user stays."""
    global _switch_ours
    if PLUGINS_SWITCH not in os.environ:
        os.environ[PLUGINS_SWITCH] = "__all__"
        _switch_ours = True


def _plugins_switch_done() -> None:
    """The command's models are built: the switch set by main leaves the environment again, so that the processes
    grok-tui starts (Chrome, the folder opener) do not inherit it. pydantic reads it at each model build, so this
    comes after the command has imported the modules that define its models."""
    global _switch_ours
    if _switch_ours:
        if os.environ.get(PLUGINS_SWITCH) == "__all__":
            del os.environ[PLUGINS_SWITCH]
        _switch_ours = False


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _plugins_off()
    try:
        return _main(argv)
    finally:
        _plugins_switch_done()


def _main(argv: list[str]) -> int:
    parser = build_parser()
    command = _command_of(argv)
    try:
        ns = parser.parse_args(argv)
    except UsageError as exc:
        exc.parser.print_usage(sys.stderr)
        print(f"{exc.parser.prog}: error: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START if command in ("run", "batch") else 2
    command = ns.command or "tui"
    try:
        if command == "sim":
            return _cmd_sim(ns)
        if command == "chrome":
            return _cmd_chrome(ns)
        if command == "demo":
            return _cmd_demo(ns)
        if command == "run":
            return _cmd_run(ns)
        if command == "history":
            from . import history_cli

            return history_cli.run(ns)
        if command == "batch":
            return _cmd_batch(ns)
        if command == "doctor":
            return _cmd_doctor(ns)
        return _cmd_tui(ns)
    except KeyboardInterrupt:
        return 130
    except _Fatal as exc:
        from .redact import redact

        print(f"grok-tui: {redact(str(exc))}", file=sys.stderr)
        return exc.code


class _Fatal(Exception):
    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


SETTING_KEYS = (
    "cdp_url", "chrome_profile", "cdp_host", "cdp_port", "tab", "allow_remote_cdp", "permission_wait_s", "video_goal", "max_retries", "auto_retry",
    "cooldown_s", "next_video_delay_s", "session_timeout_s", "tab_wait_s", "theme",
    "download", "downloads_dir", "download_name", "allow_option_change",
)


def _settings(ns: argparse.Namespace, code: int, **extra: Any):
    from .settings import SettingsError, load_settings

    given = {k: getattr(ns, k) for k in SETTING_KEYS if hasattr(ns, k)}
    given.update(extra)
    try:
        return load_settings(**given)
    except SettingsError as exc:
        raise _Fatal(str(exc), code) from None


def _store():
    from .settings import state_dir
    from .store import StateError, StateStore

    try:
        store = StateStore(state_dir())
    except StateError as exc:
        raise _Fatal(str(exc), EXIT_CANNOT_START) from None
    except OSError as exc:
        raise _Fatal(f"The state folder {state_dir()} cannot be used ({exc.strerror or exc}).", EXIT_CANNOT_START) from None
    for w in store.warnings:
        print(f"grok-tui: warning: {w}", file=sys.stderr)
    return store


# ---------------------------------------------------------------- headless run


def _cmd_run(ns: argparse.Namespace) -> int:
    # The start-up's imports build ~50,000 objects that nearly all stay: the collector's ~90 passes over them up
    # to `attached` took 11-15 ms (a full pass there finds ~800 unreachable of ~65,000). It is off until then:
    # run_headless turns it on once attached, the start-up's objects frozen as the app's are at its first frame;
    # and on again here whatever happens.
    gc.disable()
    try:
        return _run(ns)
    finally:
        gc.enable()


def _run(ns: argparse.Namespace) -> int:
    settings = _settings(ns, EXIT_CANNOT_START)
    store = _store()
    import asyncio

    from .headless import run_headless

    return asyncio.run(run_headless(settings, store, ns.prompt))


def _cmd_batch(ns: argparse.Namespace) -> int:
    import asyncio

    from .batch_headless import run_batch_headless

    settings = _settings(ns, EXIT_CANNOT_START)
    store = _store()
    return asyncio.run(run_batch_headless(settings, store, ns.file, resume=ns.resume, post=ns.post))


def _cmd_doctor(ns: argparse.Namespace) -> int:
    from . import doctor
    from .settings import config_file

    settings = _settings(ns, EXIT_CANNOT_START)
    return doctor.run(settings, _store().directory / "locks", as_json=ns.json, config=config_file())


# ---------------------------------------------------------------- TUI


def _theme_check(settings, code: int = 2):
    """resolve_theme(settings.theme) (the app is built with it: the theme files are read once); bad theme: _Fatal."""
    from .ui.themes import ThemeError, resolve_theme

    try:
        return resolve_theme(settings.theme)
    except ThemeError as exc:
        raise _Fatal(str(exc), code) from None


def _build_app(settings, store, *, demo_autostart: bool = False, prompt: str | None = None, themes=None):
    from .ui.app import make_app

    return make_app(settings, store=store, demo_autostart=demo_autostart, prompt=prompt, themes=themes)


def _run_app(settings, store, *, demo_autostart: bool = False, prompt: str | None = None, themes=None) -> int:
    return _exit_of(_build_app(settings, store, demo_autostart=demo_autostart, prompt=prompt, themes=themes))


def _exit_of(app) -> int:
    app.run()
    return int(app.return_code or 0)


def _cmd_tui(ns: argparse.Namespace) -> int:
    # The settings', the link's and Textual's modules load without the collector (see _cmd_run: ~10-15 ms of
    # passes over objects that stay); the app runs with it, as before.
    gc.disable()
    try:
        settings = _settings(ns, 2)
        themes = _theme_check(settings)
        # Attach before the screen opens, so bad input gets one sentence and an exit code.
        from .browser.cdp import BrowserError
        from .browser.endpoint import preflight

        try:
            endpoint = preflight(settings.endpoint_spec(), settings.tab)
        except BrowserError as exc:
            raise _Fatal(str(exc), EXIT_CANNOT_START) from None
        from .browser.link import warm_up

        warm_up(settings.endpoint_spec(), endpoint)  # the browser connection opens while the UI loads and draws
        app = _build_app(settings, _store(), themes=themes)
    finally:
        gc.enable()
    _plugins_switch_done()  # the app's models are built; the folder opener starts without the switch
    return _exit_of(app)


# ---------------------------------------------------------------- demo, sim, chrome


def _cmd_demo(ns: argparse.Namespace) -> int:
    from .browser.launcher import LaunchError, launch_chrome
    from .sim import SimSite

    _plugins_switch_done()  # Chrome starts first (the demo's start-up is not measured: its models may scan)
    own_state = "GROK_TUI_STATE_DIR" not in os.environ
    tmp_state = tempfile.mkdtemp(prefix="grok-tui-demo-state-") if own_state else None
    if tmp_state:
        os.environ["GROK_TUI_STATE_DIR"] = tmp_state
    try:
        site = SimSite(script=ns.script, step_ms=ns.step_ms).start()
    except (OSError, ValueError) as exc:
        raise _Fatal(f"The simulated site could not start: {exc}", EXIT_CANNOT_START) from None
    chrome = None
    try:
        try:
            chrome = launch_chrome(site.post_url(), headless=True)
        except LaunchError as exc:
            raise _Fatal(str(exc), EXIT_CANNOT_START) from None
        defaults = {
            "cdp_port": chrome.port,
            "tab": "/imagine/post/",
            "video_goal": 3,
            "max_retries": 5,
            "cooldown_s": 2.0,
            "next_video_delay_s": 2.0,
            "session_timeout_s": 60.0,
        }
        given = {k: getattr(ns, k) for k in SETTING_KEYS if hasattr(ns, k)}
        settings = _settings(argparse.Namespace(**{**defaults, **given}), EXIT_CANNOT_START)
        store = _store()
        if ns.no_ui:
            import asyncio

            from .headless import run_headless

            return asyncio.run(run_headless(settings, store, ns.prompt))
        themes = _theme_check(settings)
        return _run_app(settings, store, demo_autostart=True, prompt=ns.prompt, themes=themes)
    finally:
        if chrome is not None:
            chrome.close()
        site.stop()
        if tmp_state:
            import shutil

            shutil.rmtree(tmp_state, ignore_errors=True)


def _cmd_sim(ns: argparse.Namespace) -> int:
    from .sim import run_sim

    from .sim import parse_knob

    try:
        knobs = dict(parse_knob(k) for k in ns.knob)
    except ValueError as exc:
        raise _Fatal(f"Bad --knob: {exc}.", 2) from None
    try:
        run_sim(host=ns.host, port=ns.port, script=ns.script, editor=ns.editor, step_ms=ns.step_ms,
                markup=ns.markup, image_posts=ns.image_posts, video_size=ns.video_size, **knobs)
    except ValueError as exc:
        raise _Fatal(f"Bad --script: {exc}", 2) from None
    except OSError as exc:
        raise _Fatal(f"Cannot serve on {ns.host}:{ns.port}: {exc.strerror or exc}.", EXIT_CANNOT_START) from None
    return 0


def _cmd_chrome(ns: argparse.Namespace) -> int:
    from .browser.launcher import LaunchError, free_port, launch_chrome
    from .settings import data_dir

    _plugins_switch_done()  # the settings' models are built; Chrome starts without the switch
    profile = ns.profile or str(data_dir() / "chrome-profile")
    try:
        chrome = launch_chrome(ns.url, headless=ns.headless, port=ns.port, profile_dir=profile, executable=ns.browser)
    except LaunchError as exc:
        raise _Fatal(f"{exc} (is something else already on port {ns.port}? try --port {free_port()})", EXIT_CANNOT_START) from None
    browser = chrome.version.get("Browser", "Chrome")
    print(f"Started {browser} (pid {chrome.pid}) with remote debugging on 127.0.0.1:{chrome.port}")
    print(f"profile: {profile}  (dedicated: Chrome 136+ ignores the port on the default profile)")
    print(f"opened:  {ns.url}")
    print(f"next:    log in to grok.com in that window once, open an image post, then run: grok-tui --cdp-port {chrome.port}")
    if ns.headless:
        chrome.close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
