"""A small, hardened interface over pychrome: discovery, errors, one tab session.

pychrome's receive loop can die on a closed socket without marking the tab
stopped (pending calls then hang and a traceback is printed): `_SafeTab`
replaces that loop, marks the tab stopped and reports the disconnect.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import urllib.error
import urllib.request
from typing import Callable
from urllib.parse import urlsplit

import pychrome
import websocket

log = logging.getLogger("grok_tui.browser")
log.addHandler(logging.NullHandler())

# pychrome logs tracebacks of its own on errors we handle ourselves.
_pychrome_log = logging.getLogger("pychrome")
_pychrome_log.addHandler(logging.NullHandler())
_pychrome_log.propagate = False
_pychrome_log.setLevel(logging.CRITICAL + 1)


# ----------------------------------------------------------------------------- errors


class BrowserError(Exception):
    """Base of every browser-link error; `str(err)` is one sentence fit to show a user."""


class NothingListening(BrowserError):
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        super().__init__(
            f"Nothing is listening on {host}:{port}: start Chrome with `grok-tui chrome`, or yourself with "
            f"--remote-debugging-port={port} --user-data-dir=<a dedicated profile dir> "
            f"(Chrome 136+ ignores the port on the default profile)."
        )


class NotChrome(BrowserError):
    def __init__(self, host: str, port: int, detail: str = ""):
        self.host, self.port, self.detail = host, port, detail
        extra = f" ({detail})" if detail else ""
        super().__init__(
            f"{host}:{port} answers but is not a Chrome DevTools endpoint{extra}; start Chrome with "
            f"`grok-tui chrome` (the chrome://inspect remote-debugging toggle is not supported)."
        )


class NoMatchingTab(BrowserError):
    def __init__(self, match: str, urls: list[str]):
        self.match, self.urls = match, list(urls)
        shown = ", ".join(self.urls[:8]) + (f" and {len(self.urls) - 8} more" if len(self.urls) > 8 else "")
        super().__init__(f"No open tab's URL contains {match!r}; open tabs: {shown or 'none'}.")


class CdpTimeout(BrowserError):
    def __init__(self, method: str, timeout: float):
        self.method, self.timeout = method, timeout
        super().__init__(f"Chrome did not answer {method} within {timeout:g} s.")


class Disconnected(BrowserError):
    def __init__(self, reason: str = "connection closed"):
        self.reason = reason
        super().__init__(f"Lost the connection to the Chrome tab: {reason}.")


class CdpError(BrowserError):
    """A CDP method answered with an error."""

    def __init__(self, method: str, message: str):
        self.method, self.cdp_message = method, message
        super().__init__(f"Chrome refused {method}: {message}.")


# ----------------------------------------------------------------------------- discovery

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get_json(host: str, port: int, path: str, timeout: float):
    url = f"http://{host}:{port}{path}"
    try:
        with _NO_PROXY.open(url, timeout=timeout) as resp:
            body = resp.read(4 << 20)
    except urllib.error.HTTPError as exc:
        raise NotChrome(host, port, f"{path} answered HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        # Failed to connect (refused, unreachable, connect timeout): nobody is there.
        if isinstance(exc.reason, OSError):
            raise NothingListening(host, port) from None
        raise NotChrome(host, port, str(exc.reason)) from None
    except (http.client.HTTPException, OSError) as exc:
        # Connected, but the answer is not HTTP, or none came.
        raise NotChrome(host, port, f"no valid HTTP answer ({exc.__class__.__name__})") from None
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise NotChrome(host, port, f"{path} is not JSON") from None


def _is_page(t) -> bool:
    if not isinstance(t, dict) or t.get("type") != "page":
        return False
    url = t.get("url") or ""
    if not isinstance(url, str) or url.startswith(("chrome://", "devtools://", "chrome-untrusted://")):
        return False
    return isinstance(t.get("webSocketDebuggerUrl"), str) and bool(t.get("id"))


def discover(host: str = "127.0.0.1", port: int = 9222, timeout: float = 2.0) -> tuple[dict, list[dict]]:
    """(`/json/version` dict, page targets). Raises NothingListening / NotChrome."""
    version = _get_json(host, port, "/json/version", timeout)
    if not isinstance(version, dict) or "Browser" not in version:
        raise NotChrome(host, port, "/json/version has no Browser field")
    targets = _get_json(host, port, "/json/list", timeout)
    if not isinstance(targets, list):
        raise NotChrome(host, port, "/json/list is not a list")
    return version, [t for t in targets if _is_page(t)]


# ----------------------------------------------------------------------------- session


class _SafeTab(pychrome.Tab):
    """pychrome.Tab whose receive loop survives a closed socket and reports it."""

    def __init__(self, on_close: Callable[[str], None], connect_timeout: float = 5.0, **kwargs):
        super().__init__(**kwargs)
        self._on_close = on_close
        self._connect_timeout = connect_timeout

    def start(self):
        if self._started:
            return False
        self._started = True
        self.status = self.status_started
        self._stopped.clear()
        host = urlsplit(self._websocket_url).hostname or "127.0.0.1"
        self._ws = websocket.create_connection(
            self._websocket_url,
            enable_multithread=True,
            suppress_origin=True,
            timeout=self._connect_timeout,
            http_no_proxy=[host],
        )
        self._recv_th.name = "cdp-recv"
        self._handle_event_th.name = "cdp-events"
        self._recv_th.start()
        self._handle_event_th.start()
        return True

    def _recv_loop(self):
        reason = "socket closed"
        while not self._stopped.is_set():
            try:
                self._ws.settimeout(1)
                message_json = self._ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except Exception as exc:  # socket closed / reset / anything: a disconnect
                reason = f"socket closed ({exc.__class__.__name__})"
                break
            if not message_json:
                break
            try:
                message = json.loads(message_json)
            except ValueError:
                log.debug("cdp: unparsable message dropped")
                continue
            if not isinstance(message, dict):
                continue
            if "method" in message:
                self.event_queue.put(message)
            elif "id" in message:
                q = self.method_results.get(message["id"])
                if q is not None:
                    q.put(message)
        ours = self._stopped.is_set()
        self.status = self.status_stopped
        self._stopped.set()
        try:
            self._ws.close()
        except Exception:
            pass
        if not ours:
            try:
                self._on_close(reason)
            except Exception:
                log.error("cdp: disconnect callback failed", exc_info=True)

    def _handle_event_loop(self):
        import queue

        while not self._stopped.is_set():
            try:
                event = self.event_queue.get(timeout=0.5)
            except queue.Empty:
                continue
            handler = self.event_handlers.get(event.get("method"))
            if handler is not None:
                try:
                    params = event.get("params")
                    handler(**(params if isinstance(params, dict) else {}))
                except Exception:
                    log.error("cdp: callback for %s failed", event.get("method"), exc_info=True)
            self.event_queue.task_done()


class CdpSession:
    """One started pychrome Tab for one page target.

    `call()` is serialized and always bounded by a timeout. Event callbacks run
    on pychrome's event thread, get the event's params as one dict, and their
    exceptions are logged, never raised.
    """

    def __init__(self, target: dict, *, connect_timeout: float = 5.0):
        self.target = dict(target)
        self.target_id = target.get("id")
        self._lock = threading.Lock()
        self._handlers: dict[str, list[Callable[[dict], None]]] = {}
        self._disconnect_cbs: list[Callable[[str], None]] = []
        self._disconnected = threading.Event()
        self._disconnect_once = threading.Lock()
        self.disconnect_reason: str | None = None
        self._closed = False
        self._tab = _SafeTab(
            self._socket_closed,
            connect_timeout=connect_timeout,
            id=target.get("id"),
            type=target.get("type"),
            webSocketDebuggerUrl=target.get("webSocketDebuggerUrl"),
        )
        try:
            self._tab.start()
        except Exception as exc:
            self._tab._stopped.set()
            raise Disconnected(f"could not open the tab's DevTools socket ({exc.__class__.__name__})") from None

    # -- state
    @property
    def alive(self) -> bool:
        return not self._closed and not self._disconnected.is_set() and not self._tab._stopped.is_set()

    # -- calls
    def call(self, method: str, timeout: float = 5.0, **params) -> dict:
        if not self.alive:
            raise Disconnected(self.disconnect_reason or "session closed")
        if not self._lock.acquire(timeout=timeout):
            raise CdpTimeout(method, timeout)
        try:
            if not self.alive:
                raise Disconnected(self.disconnect_reason or "session closed")
            try:
                result = self._tab._send({"method": method, "params": params}, timeout=timeout)
            except pychrome.TimeoutException:
                raise CdpTimeout(method, timeout) from None
            except pychrome.UserAbortException:
                raise Disconnected(self.disconnect_reason or "session closed") from None
            except (websocket.WebSocketException, OSError) as exc:
                self._socket_closed(f"send failed ({exc.__class__.__name__})")
                raise Disconnected(self.disconnect_reason or "send failed") from None
        finally:
            self._lock.release()
        if not isinstance(result, dict):
            raise CdpError(method, "malformed answer")
        if "error" in result and "result" not in result:
            err = result.get("error")
            msg = err.get("message") if isinstance(err, dict) else str(err)
            raise CdpError(method, str(msg))
        res = result.get("result")
        return res if isinstance(res, dict) else {}

    # -- events
    def on(self, event_name: str, callback: Callable[[dict], None]) -> None:
        cbs = self._handlers.setdefault(event_name, [])
        cbs.append(callback)
        if len(cbs) == 1:
            self._tab.set_listener(event_name, lambda **params: self._dispatch(event_name, params))

    def _dispatch(self, event_name: str, params: dict) -> None:
        for cb in list(self._handlers.get(event_name, ())):
            try:
                cb(params)
            except Exception:
                log.error("cdp: handler for %s failed", event_name, exc_info=True)

    def on_disconnect(self, callback: Callable[[str], None]) -> None:
        self._disconnect_cbs.append(callback)

    def _socket_closed(self, reason: str) -> None:
        self.mark_disconnected(reason)

    def mark_disconnected(self, reason: str) -> None:
        """Treat the session as gone (socket closed, tab detached or crashed); callbacks fire once."""
        with self._disconnect_once:
            if self._disconnected.is_set() or self._closed:
                return
            self.disconnect_reason = reason
            self._disconnected.set()
        self._stop_tab()
        for cb in list(self._disconnect_cbs):
            try:
                cb(reason)
            except Exception:
                log.error("cdp: disconnect callback failed", exc_info=True)

    def _stop_tab(self) -> None:
        tab = self._tab
        tab.status = tab.status_stopped
        tab._stopped.set()
        ws = tab._ws
        if ws is not None:
            try:
                ws.close(timeout=0.5)
            except Exception:
                pass

    def close(self) -> None:
        """Stop the session (no disconnect callback)."""
        with self._disconnect_once:
            if self._closed:
                return
            self._closed = True
        self._stop_tab()
