"""Finds the browser-level DevTools endpoint: --cdp-url, a profile's DevToolsActivePort, host:port, or the usual places.

In this order: `cdp_url` (ws://…/devtools/browser/<id> as is; http://host:port
through /json/version), `chrome_profile` (its DevToolsActivePort: line 1 the
port, line 2 the /devtools/browser/<id> path; no HTTP request at all),
`host`/`port` (the classic /json/version), and with nothing given
127.0.0.1:9222, then the DevToolsActivePort of the usual Chrome, Beta, Canary,
Chromium, Brave and Edge profiles. Only loopback unless allowed. Every HTTP
request has an overall deadline: a server that drips its answer cannot hang us.
`Deadline` is the one deadline of a whole attach (ATTACH_DEADLINE_S; the time
Chrome waits for the user to allow the connection is bounded on its own).
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .cdp import CONNECT_DEADLINE_S, HINT, BrowserError, NoMatchingTab, NothingListening, NotChrome, host_arg

PORT_FILE = "DevToolsActivePort"
DEFAULT_PORT = 9222
ATTACH_DEADLINE_S = 10.0  # all of an attach, from finding the endpoint to the tab set up (not the user's time to allow it)


class EndpointError(BrowserError):
    """The endpoint setting cannot be used; one sentence."""


class StalePortFile(EndpointError):
    def __init__(self, path: Path, port: int):
        self.path, self.port = path, port
        super().__init__(
            f"{path} names port {port} but nothing listens there (Chrome has quit or remote debugging was "
            f"switched off since): start Chrome and {HINT.split(', or ')[0]}."
        )


class BadPortFile(EndpointError):
    def __init__(self, path: Path, detail: str):
        self.path = path
        super().__init__(f"{path} is not a DevTools port file ({detail}); {HINT}.")


class AttachTimeout(BrowserError):
    def __init__(self, total_s: float, step: str, where: str = ""):
        self.total_s, self.step = total_s, step
        at = f" at {where}" if where else ""
        super().__init__(
            f"Attaching to Chrome{at} did not finish within {total_s:g} s (still at {step}); Chrome may be busy or "
            f"hung: try again, or restart Chrome."
        )


class Deadline:
    """The one deadline of a whole attach: each step may take at most what is left of it.

    `bound(timeout, step)` is the timeout a step may use (raises AttachTimeout when nothing
    is left); `extend(s)` adds back time that was the user's, not the attach's (Chrome
    waiting for "allow remote debugging?").
    """

    def __init__(self, total_s: float = ATTACH_DEADLINE_S, clock=time.monotonic):
        self.total_s, self._clock = total_s, clock
        self._end = clock() + total_s
        self.where = ""  # host:port, once known

    def left(self) -> float:
        return self._end - self._clock()

    def extend(self, seconds: float) -> None:
        self._end += max(0.0, seconds)

    def expired(self, step: str) -> AttachTimeout:
        return AttachTimeout(self.total_s, step, self.where)

    def bound(self, timeout: float, step: str = "a DevTools call") -> float:
        left = self.left()
        if left <= 0:
            raise self.expired(step)
        return min(timeout, left)


class NotLoopback(EndpointError):
    def __init__(self, what: str):
        super().__init__(
            f"{what} is not this machine; a DevTools endpoint is full control of the browser, "
            f"so pass --allow-remote-cdp if you really mean it."
        )


@dataclass(frozen=True)
class EndpointSpec:
    """What the user asked for (settings), before anything is looked up."""

    cdp_url: str | None = None
    chrome_profile: str | None = None
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    port_given: bool = True  # host/port were set; False: look in the usual places
    allow_remote: bool = False


@dataclass(frozen=True)
class Endpoint:
    """A browser-level WebSocket URL and how it was found."""

    ws_url: str
    host: str
    port: int
    how: str  # e.g. "--cdp-url", "DevToolsActivePort in /home/me/.config/google-chrome"
    port_file: Path | None = None
    browser: str = ""  # from /json/version, when it was read
    protocol: str = ""

    @property
    def label(self) -> str:
        """host:port and how it was found, for people: never the /devtools/browser/<id> path, never a URL's query."""
        hp = f"{self.host}:{self.port}"
        how = "--cdp-url" if self.how.startswith("--cdp-url") else self.how
        return hp if how == hp else f"{hp} via {how}"


def is_loopback_host(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# ----------------------------------------------------------------------------- HTTP with a deadline


def get_json(host: str, port: int, path: str, deadline_s: float = CONNECT_DEADLINE_S):
    """GET http://host:port/path as JSON, all of it within `deadline_s`. Raises NothingListening / NotChrome."""
    end = time.monotonic() + deadline_s

    def left() -> float:
        rest = end - time.monotonic()
        if rest <= 0:
            raise NotChrome(host, port, f"{path} did not answer within {deadline_s:g} s")
        return rest

    try:
        sock = socket.create_connection((host_arg(host), port), timeout=left())
    except socket.timeout:
        raise NotChrome(host, port, f"no connection within {deadline_s:g} s") from None
    except OSError:
        raise NothingListening(host, port) from None
    chunks: list[bytes] = []
    size = 0
    try:
        with sock:
            sock.settimeout(left())
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode("ascii"))
            while size < (4 << 20):
                sock.settimeout(left())
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
                size += len(data)
                if _complete(b"".join(chunks)):
                    break
    except socket.timeout:
        raise NotChrome(host, port, f"{path} did not answer within {deadline_s:g} s") from None
    except OSError as exc:
        raise NotChrome(host, port, f"no valid HTTP answer ({exc.__class__.__name__})") from None
    status, body = _parse(b"".join(chunks))
    if status is None:
        raise NotChrome(host, port, "no valid HTTP answer")
    if status != 200:
        raise NotChrome(host, port, f"{path} answered HTTP {status}")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise NotChrome(host, port, f"{path} is not JSON") from None


def _split(raw: bytes) -> tuple[bytes, bytes] | None:
    head, sep, body = raw.partition(b"\r\n\r\n")
    return (head, body) if sep else None


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                return int(value.strip())
            except ValueError:
                return None
    return None


def _complete(raw: bytes) -> bool:
    parts = _split(raw)
    if parts is None:
        return False
    n = _content_length(parts[0])
    return n is not None and len(parts[1]) >= n


def _parse(raw: bytes) -> tuple[int | None, bytes]:
    parts = _split(raw)
    if parts is None:
        return None, b""
    head, body = parts
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/") or not status_line[1].isdigit():
        return None, b""
    n = _content_length(head)
    return int(status_line[1]), body[:n] if n is not None else body


def _is_page(t) -> bool:
    if not isinstance(t, dict) or t.get("type") != "page":
        return False
    url = t.get("url") or ""
    if not isinstance(url, str) or url.startswith(("chrome://", "devtools://", "chrome-untrusted://")):
        return False
    return isinstance(t.get("webSocketDebuggerUrl"), str) and bool(t.get("id"))


def discover(host: str = "127.0.0.1", port: int = DEFAULT_PORT, timeout: float = CONNECT_DEADLINE_S) -> tuple[dict, list[dict]]:
    """Classic mode only: (`/json/version` dict, page targets of `/json/list`). Raises NothingListening / NotChrome."""
    version = _version(host, port, timeout)
    targets = get_json(host, port, "/json/list", timeout)
    if not isinstance(targets, list):
        raise NotChrome(host, port, "/json/list is not a list")
    return version, [t for t in targets if _is_page(t)]


def _version(host: str, port: int, deadline_s: float) -> dict:
    version = get_json(host, port, "/json/version", deadline_s)
    if not isinstance(version, dict) or "Browser" not in version:
        raise NotChrome(host, port, "/json/version has no Browser field")
    if not isinstance(version.get("webSocketDebuggerUrl"), str):
        raise NotChrome(host, port, "/json/version has no webSocketDebuggerUrl")
    return version


# ----------------------------------------------------------------------------- DevToolsActivePort


def read_port_file(path: Path) -> tuple[int, str]:
    """(port, /devtools/browser/<id> path) from a DevToolsActivePort file. Raises EndpointError."""
    try:
        raw = path.read_bytes()[:4096]
    except FileNotFoundError:
        raise EndpointError(
            f"There is no {PORT_FILE} in {path.parent}: remote debugging is not on in that Chrome profile; {HINT}."
        ) from None
    except OSError as exc:
        raise EndpointError(f"{path} cannot be read ({exc.strerror or exc}).") from None
    try:
        lines = raw.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        raise BadPortFile(path, "not text") from None
    port_s = lines[0].strip()
    ws_path = lines[1].strip() if len(lines) > 1 else ""
    if not port_s.isdigit() or not 0 < int(port_s) < 65536:
        raise BadPortFile(path, "its first line is not a port number")
    if not ws_path.startswith("/devtools/browser/") or any(c.isspace() for c in ws_path):
        raise BadPortFile(path, "its second line is not a /devtools/browser/ path")
    return int(port_s), ws_path


def _from_port_file(profile: Path, how: str) -> Endpoint:
    path = profile / PORT_FILE
    if not profile.is_dir():
        raise EndpointError(f"The Chrome profile folder {profile} does not exist.")
    port, ws_path = read_port_file(path)
    return Endpoint(f"ws://127.0.0.1:{port}{ws_path}", "127.0.0.1", port, how, port_file=path)


def usual_profile_dirs(home: Path | None = None, env: dict | None = None, platform: str | None = None) -> list[Path]:
    """The default user-data dirs of Chrome, Beta, Canary, Chromium, Brave and Edge on this OS."""
    home = home or Path.home()
    env = os.environ if env is None else env
    platform = platform or sys.platform
    if platform.startswith("win"):
        base = Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local")
        names = [r"Google\Chrome", r"Google\Chrome Beta", r"Google\Chrome SxS", "Chromium",
                 r"BraveSoftware\Brave-Browser", r"Microsoft\Edge", r"Microsoft\Edge Beta"]
        return [base.joinpath(*n.split("\\"), "User Data") for n in names]
    if platform == "darwin":
        base = home / "Library" / "Application Support"
        names = ["Google/Chrome", "Google/Chrome Beta", "Google/Chrome Canary", "Chromium",
                 "BraveSoftware/Brave-Browser", "Microsoft Edge", "Microsoft Edge Beta"]
        return [base.joinpath(*n.split("/")) for n in names]
    base = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    names = ["google-chrome", "google-chrome-beta", "google-chrome-unstable", "google-chrome-canary", "chromium",
             "BraveSoftware/Brave-Browser", "microsoft-edge", "microsoft-edge-beta"]
    return [base.joinpath(*n.split("/")) for n in names] + [home / "snap" / "chromium" / "common" / "chromium"]


def _listening(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host_arg(host), port), timeout=timeout):
            return True
    except OSError:
        return False


# ----------------------------------------------------------------------------- resolve


def _classic(host: str, port: int, how: str, deadline_s: float) -> Endpoint:
    version = _version(host, port, deadline_s)
    ws = version["webSocketDebuggerUrl"]
    parts = urlsplit(ws)
    if parts.scheme not in ("ws", "wss") or not parts.path.startswith("/devtools/browser/"):
        raise NotChrome(host, port, "/json/version names no browser WebSocket")
    # Chrome names the host we asked for; keep it (and its port) exactly.
    ws = f"{parts.scheme}://{host}:{port}{parts.path}"
    return Endpoint(ws, host, port, how, browser=str(version.get("Browser", "")),
                    protocol=str(version.get("Protocol-Version", "")))


def resolve(spec: EndpointSpec, *, deadline_s: float = CONNECT_DEADLINE_S, profile_dirs: list[Path] | None = None,
            default_port: int = DEFAULT_PORT) -> Endpoint:
    """The endpoint to connect to, and how it was found. Raises BrowserError subclasses (one sentence)."""
    if spec.cdp_url:
        url = spec.cdp_url.strip()
        try:
            parts = urlsplit(url)
            host, port = parts.hostname or "", parts.port
        except ValueError:
            host, port, parts = "", None, None
        if parts is None or not host or parts.scheme not in ("ws", "wss", "http", "https"):
            raise EndpointError(
                f"--cdp-url {url!r} is not ws://host:port/devtools/browser/<id> or http://host:port."
            )
        if not spec.allow_remote and not is_loopback_host(host):
            raise NotLoopback(f"--cdp-url {url!r}")
        if parts.scheme in ("ws", "wss"):
            if not parts.path.startswith("/devtools/browser/"):
                raise EndpointError(f"--cdp-url {url!r} is not a browser endpoint (its path must be /devtools/browser/<id>).")
            port = port or (443 if parts.scheme == "wss" else 80)
            return Endpoint(url, host, port, "--cdp-url")
        port = port or (443 if parts.scheme == "https" else 80)
        return _classic(host, port, f"--cdp-url ({url})", deadline_s)
    if spec.chrome_profile:
        profile = Path(spec.chrome_profile).expanduser()
        return _from_port_file(profile, f"{PORT_FILE} in {profile}")
    if spec.port_given:
        if not spec.allow_remote and not is_loopback_host(spec.host):
            raise NotLoopback(f"cdp_host {spec.host!r}")
        return _classic(spec.host, spec.port, f"{spec.host}:{spec.port}", deadline_s)
    # Nothing given: the classic port, then the usual profiles (newest port file first, live ones only).
    try:
        return _classic("127.0.0.1", default_port, f"127.0.0.1:{default_port}", deadline_s)
    except (NothingListening, NotChrome):
        pass
    found = []
    for d in usual_profile_dirs() if profile_dirs is None else profile_dirs:
        f = d / PORT_FILE
        try:
            found.append((f.stat().st_mtime, d))
        except OSError:
            continue
    for _mtime, d in sorted(found, reverse=True):
        try:
            ep = _from_port_file(d, f"{PORT_FILE} in {d}")
        except EndpointError:
            continue
        if _listening(ep.port):
            return ep
    stale = f" (only stale ones, in {', '.join(str(d) for _m, d in found)})" if found else ""
    raise EndpointError(
        f"No Chrome with remote debugging was found: nothing on 127.0.0.1:{default_port} and no live {PORT_FILE} in the "
        f"usual Chrome, Beta, Canary, Chromium, Brave or Edge profiles{stale}; {HINT}, or pass --chrome-profile / --cdp-url."
    )


def preflight(spec: EndpointSpec, tab_match: str, *, deadline_s: float = CONNECT_DEADLINE_S) -> Endpoint:
    """Before the UI opens: the endpoint resolves and something listens there (classic mode: a tab matches).

    It opens no WebSocket (in toggle mode that would make Chrome ask twice).
    """
    ep = resolve(spec, deadline_s=deadline_s)
    if ep.browser:  # classic: /json/list is there too
        _version, pages = discover(ep.host, ep.port, deadline_s)
        if not any(tab_match in str(t.get("url", "")) for t in pages):
            raise NoMatchingTab(tab_match, [str(t.get("url", "")) for t in pages])
    elif not _listening(ep.port, host=ep.host, timeout=deadline_s):
        if ep.port_file is not None:
            raise StalePortFile(ep.port_file, ep.port)
        raise NothingListening(ep.host, ep.port)
    return ep
