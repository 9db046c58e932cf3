"""Start a Chrome/Chromium with remote debugging.

Two uses: a throw-away headless Chromium for the demo, tests and benchmarks
(fresh temporary profile, removed on close), and `grok-tui chrome`, which
starts the user's browser on a dedicated, persistent profile (Chrome 136+
ignores --remote-debugging-port on the default profile).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

BROWSER_NAMES = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "chrome",
)
MAC_PATHS = (
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
)

# Quiet flags: without them Chromium floods a closed network with connections.
QUIET_FLAGS = (
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
HEADLESS_FLAGS = ("--headless", "--disable-gpu", "--window-size=1280,900")


class LaunchError(Exception):
    """The browser could not be started; the message is one sentence."""


def find_browser(explicit: str | None = None) -> str:
    """Path of a Chrome/Chromium executable, or LaunchError."""
    if explicit:
        path = shutil.which(explicit) or (explicit if os.path.exists(explicit) else None)
        if not path:
            raise LaunchError(f"No browser executable at {explicit!r}.")
        return path
    env = os.environ.get("GROK_TUI_CHROME")
    if env:
        return find_browser(env)
    for name in BROWSER_NAMES:
        path = shutil.which(name)
        if path:
            return path
    for path in MAC_PATHS:
        if os.path.exists(path):
            return path
    raise LaunchError(
        "No Chrome or Chromium found on PATH; install one (Debian: apt-get install chromium) "
        "or set GROK_TUI_CHROME to its path."
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for_devtools(host: str, port: int, timeout: float = 15.0, proc: subprocess.Popen | None = None) -> dict:
    """Wait until /json/version answers; return its JSON."""
    deadline = time.monotonic() + timeout
    url = f"http://{host}:{port}/json/version"
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1.0) as resp:
                return json.loads(resp.read().decode())
        except (OSError, ValueError, urllib.error.URLError):
            pass
        if proc is not None and proc.poll() is not None:
            raise LaunchError(f"The browser exited (code {proc.returncode}) before its DevTools port opened.")
        if time.monotonic() > deadline:
            raise LaunchError(f"The browser's DevTools port {port} did not open within {timeout:.0f} s.")
        time.sleep(0.05)


def wait_for_port_file(path: str, timeout: float = 15.0, proc: subprocess.Popen | None = None) -> int:
    """The port a browser started with --remote-debugging-port=0 wrote into its DevToolsActivePort."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path, encoding="utf-8") as fh:
                first = fh.readline().strip()
            if first.isdigit():
                return int(first)
        except OSError:
            pass
        if proc is not None and proc.poll() is not None:
            raise LaunchError(f"The browser exited (code {proc.returncode}) before it wrote {path}.")
        if time.monotonic() > deadline:
            raise LaunchError(f"The browser did not write {path} within {timeout:.0f} s.")
        time.sleep(0.05)


def stop_process(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """Terminate, and kill if it has not ended within `grace` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=grace)


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs (zombies, which cannot write, do not count)."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return False
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


def _end_group(pgid: int, grace: float = 2.0) -> None:
    """SIGKILL what is left of a process group we started (start_new_session=True)."""
    if not hasattr(os, "killpg"):
        return
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + grace
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.02)


@dataclass
class ChromeProcess:
    """A running browser we started. `close()` ends it and removes a temporary profile."""

    proc: subprocess.Popen
    host: str
    port: int
    profile_dir: str
    temporary: bool
    version: dict = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        """Kill at once (fault injection: 'Chrome crashed')."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def close(self) -> None:
        stop_process(self.proc)
        # Chromium's helpers (zygote, renderers, crashpad) outlive the main process for a
        # moment and write into the profile; end the whole group before removing it.
        _end_group(self.proc.pid)
        if self.temporary:
            for _ in range(20):
                shutil.rmtree(self.profile_dir, ignore_errors=True)
                if not os.path.exists(self.profile_dir):
                    break
                time.sleep(0.05)

    def __enter__(self) -> "ChromeProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def launch_chrome(
    url: str = "about:blank",
    *,
    headless: bool = True,
    port: int | None = None,
    host: str = "127.0.0.1",
    profile_dir: str | None = None,
    executable: str | None = None,
    timeout: float = 20.0,
    extra_args: tuple[str, ...] = (),
) -> ChromeProcess:
    """Start a browser with remote debugging on `host:port` and wait for DevTools.

    Without `profile_dir` a fresh temporary profile is made and removed on close.
    """
    exe = find_browser(executable)
    port = free_port(host) if port is None else port
    temporary = profile_dir is None
    profile = profile_dir or tempfile.mkdtemp(prefix="grok-tui-chrome-")
    os.makedirs(profile, exist_ok=True)
    args = [
        exe,
        f"--remote-debugging-port={port}",
        f"--remote-debugging-address={host}",
        f"--user-data-dir={profile}",
        *QUIET_FLAGS,
    ]
    if headless:
        args += HEADLESS_FLAGS
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")
    args += list(extra_args)
    args.append(url)
    proc = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    chrome = ChromeProcess(proc=proc, host=host, port=port, profile_dir=profile, temporary=temporary)
    try:
        if port == 0:
            chrome.port = wait_for_port_file(os.path.join(profile, "DevToolsActivePort"), timeout, proc)
        else:
            chrome.version = wait_for_devtools(host, port, timeout, proc)
    except BaseException:
        chrome.close()
        raise
    return chrome
