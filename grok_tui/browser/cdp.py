"""The CDP transport over pychrome: one DevTools WebSocket, commands and events routed by session, and the errors.

A `Connection` is one WebSocket (the browser endpoint, or a page's). Commands
for an attached target carry a top-level `sessionId` (flattened sessions) and
its events come back with the same key; `CdpSession` is one target's view of a
connection. pychrome's own receive loop can die on a closed socket without
marking the tab stopped (pending calls then hang, a traceback is printed), and
its dispatcher drops the `sessionId`: `_Socket` replaces both. pychrome's `tab` module is
imported when the first connection is made (`_socket_class`), not with this module, and
without the package's `__init__` (`_pychrome_tab`): that also imports `pychrome.browser`,
i.e. requests, urllib3 and charset_normalizer (~45 ms of every start), for HTTP calls that
grok-tui makes itself (`endpoint.discover`).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import logging
import queue
import socket
import sys
import threading
import time
from typing import Callable
from urllib.parse import urlsplit

import websocket

log = logging.getLogger("grok_tui.browser")
log.addHandler(logging.NullHandler())

# pychrome logs tracebacks of its own on errors we handle ourselves.
_pychrome_log = logging.getLogger("pychrome")
_pychrome_log.addHandler(logging.NullHandler())
_pychrome_log.propagate = False
_pychrome_log.setLevel(logging.CRITICAL + 1)

CONNECT_DEADLINE_S = 5.0  # discovery requests and the WebSocket handshake, each at most (within the attach's one deadline)
PERMISSION_WAIT_S = 30.0  # how long a silent handshake may wait for the user to allow it in Chrome (setting permission_wait_s)
HINT = "switch remote debugging on at chrome://inspect/#remote-debugging (Chrome 144+), or start Chrome with `grok-tui chrome`"


# ----------------------------------------------------------------------------- errors


class BrowserError(Exception):
    """Base of every browser-link error; `str(err)` is one sentence fit to show a user."""


class NothingListening(BrowserError):
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        super().__init__(
            f"Nothing is listening on {host}:{port}: {HINT}, or start it yourself with "
            f"--remote-debugging-port={port} --user-data-dir=<a dedicated profile dir> "
            f"(Chrome 136+ ignores the port on the default profile)."
        )


class NotChrome(BrowserError):
    def __init__(self, host: str, port: int, detail: str = ""):
        self.host, self.port, self.detail = host, port, detail
        extra = f" ({detail})" if detail else ""
        super().__init__(
            f"{host}:{port} answers but is not a Chrome DevTools endpoint{extra}; if it is a Chrome with the "
            f"chrome://inspect toggle on, pass --chrome-profile <its profile dir> or --cdp-url ws://…/devtools/browser/<id>."
        )


class NoMatchingTab(BrowserError):
    def __init__(self, match: str, urls: list[str]):
        from ..sanitize import strip_url

        self.match, self.urls = match, [strip_url(u, 200) for u in urls]
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


class ConnectionRefused(BrowserError):
    """The user declined Chrome's "allow remote debugging" prompt (or Chrome refused the socket)."""

    def __init__(self, where: str, detail: str = ""):
        self.where = where
        extra = f" ({detail})" if detail else ""
        super().__init__(
            f"Chrome refused the DevTools connection to {where}{extra}: allow it when Chrome asks, "
            f"or switch remote debugging on again at chrome://inspect/#remote-debugging."
        )


class PermissionTimeout(ConnectionRefused):
    """Chrome said nothing for the whole permission wait: the user did not allow the connection (in time)."""

    def __init__(self, where: str, wait_s: float):
        self.where, self.wait_s = where, wait_s
        BrowserError.__init__(
            self,
            f"Chrome did not let grok-tui connect to {where} within {wait_s:g} s: allow the connection when Chrome "
            f"asks (remote debugging must be on at chrome://inspect/#remote-debugging), then try again.",
        )


# ----------------------------------------------------------------------------- the socket


def host_arg(host: str) -> bytes:
    """`host` as getaddrinfo takes it. A name in ASCII (every address, a plain host name) goes as its bytes:
    given a str, Python loads its IDNA codec for every name (encodings.idna, stringprep, unicodedata: ~3 ms and
    0.4 MB of each start), and raises UnicodeError, not an OSError, for an empty or too long label ("a..b").
    Any other name is encoded with IDNA here; one that cannot be raises socket.gaierror, as an unknown name does."""
    if host.isascii():
        return host.encode("ascii")
    try:
        return host.encode("idna")
    except UnicodeError:
        raise socket.gaierror(socket.EAI_NONAME, f"{host!r} is not a valid host name") from None


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme in ("wss", "https") else 80)


class _WatchedSocket(socket.socket):
    """A TCP socket that notes when its first byte arrived (a handshake that waits for a prompt sends none)."""

    first_byte_at: float | None = None

    def recv(self, *args):
        data = super().recv(*args)
        if data and self.first_byte_at is None:
            self.first_byte_at = time.monotonic()
        return data


def open_websocket(
    url: str,
    *,
    deadline_s: float = CONNECT_DEADLINE_S,
    permission_wait_s: float = PERMISSION_WAIT_S,
    on_waiting: Callable[[], None] | None = None,
) -> websocket.WebSocket:
    """A connected WebSocket to `url`, or a BrowserError.

    Connecting and the handshake end within `deadline_s`, except while Chrome has
    sent nothing at all: then it may be showing its "allow remote debugging?"
    prompt, so `on_waiting()` is called (once, after a second) and the wait goes on
    up to `permission_wait_s`.
    """
    host, port = _host_port(url)
    start = time.monotonic()
    try:
        infos = socket.getaddrinfo(host_arg(host), port, type=socket.SOCK_STREAM)
    except OSError:
        raise NothingListening(host, port) from None
    family, stype, proto, _name, addr = infos[0]
    sock = _WatchedSocket(family, stype, proto)
    sock.settimeout(deadline_s)
    try:
        sock.connect(addr)
    except OSError:
        sock.close()
        raise NothingListening(host, port) from None
    sock.settimeout(max(deadline_s, permission_wait_s))
    done = threading.Event()
    waited = threading.Event()
    expired = threading.Event()

    def watch() -> None:
        while not done.wait(0.1):
            now = time.monotonic()
            silent = sock.first_byte_at is None
            if silent and now - start >= 1.0 and not waited.is_set():
                waited.set()
                if on_waiting is not None:
                    try:
                        on_waiting()
                    except Exception:
                        log.debug("on_waiting failed", exc_info=True)
            limit = permission_wait_s if silent else deadline_s
            if now - start >= limit:
                expired.set()
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return

    watcher = threading.Thread(target=watch, name="cdp-connect", daemon=True)
    watcher.start()
    try:
        ws = websocket.create_connection(
            url, socket=sock, enable_multithread=True, suppress_origin=True, http_no_proxy=[host],
            # websocket-client checks UTF-8 in pure Python, byte by byte: 6 s for one 1 MB IO.read
            # answer. Chrome's JSON is valid UTF-8 and json.loads rejects anything that is not.
            skip_utf8_validation=True,
        )
    except websocket.WebSocketBadStatusException as exc:
        sock.close()
        code = getattr(exc, "status_code", None)
        if code in (401, 403):
            raise ConnectionRefused(f"{host}:{port}", f"HTTP {code}") from None
        raise NotChrome(host, port, f"the WebSocket upgrade answered HTTP {code}") from None
    except Exception as exc:
        sock.close()
        if expired.is_set():
            if sock.first_byte_at is None:
                raise PermissionTimeout(f"{host}:{port}", permission_wait_s) from None
            raise NotChrome(host, port, f"the WebSocket handshake took longer than {deadline_s:g} s") from None
        if waited.is_set() and sock.first_byte_at is None:
            raise ConnectionRefused(f"{host}:{port}") from None
        raise NotChrome(host, port, f"no WebSocket handshake ({exc.__class__.__name__})") from None
    finally:
        done.set()
    ws.settimeout(None)
    return ws


def _pychrome_tab():
    """pychrome's `tab` module (its Tab and, star-imported, its exceptions). When pychrome is not
    imported yet, its package body is skipped for this: a placeholder package stands in while
    `pychrome.tab` and `pychrome.exceptions` load, then leaves, so that a later `import pychrome`
    runs the real `__init__` (which finds these two loaded and uses the same classes)."""
    if "pychrome" in sys.modules:
        return importlib.import_module("pychrome.tab")
    spec = importlib.util.find_spec("pychrome")
    if spec is None or not spec.submodule_search_locations:
        return importlib.import_module("pychrome.tab")  # not a plain package: import it as usual
    placeholder = importlib.util.module_from_spec(spec)  # the package, its __init__ not run
    sys.modules["pychrome"] = placeholder
    try:
        return importlib.import_module("pychrome.tab")
    finally:
        if sys.modules.get("pychrome") is placeholder:
            del sys.modules["pychrome"]


@functools.cache
def _socket_class() -> type:
    """The transport class, defined on first use (importing pychrome's Tab then)."""
    pychrome = _pychrome_tab()

    class _Socket(pychrome.Tab):
        """pychrome.Tab as the transport of a Connection: our socket, our receive loop, our dispatch."""

        TimeoutException = pychrome.TimeoutException
        UserAbortException = pychrome.UserAbortException

        def __init__(self, conn: "Connection", ws: websocket.WebSocket, url: str):
            super().__init__(id="browser", type="browser", webSocketDebuggerUrl=url)
            self._conn = conn
            self._ws = ws
            self._started = True
            self.status = self.status_started
            self._recv_th.name = "cdp-recv"
            self._handle_event_th.name = "cdp-events"
            self._recv_th.start()
            self._handle_event_th.start()

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
                # Handlers that never wait for an answer run here, on this thread, when nothing is queued
                # for (or running on) the event thread: one thread hand-off less, and the order is kept.
                queue_idle = self.event_queue.unfinished_tasks == 0
                if "method" in message:
                    if self._conn._arrival:
                        self._conn._on_arrival(message)
                    method, sid = str(message["method"]), message.get("sessionId")
                    waits = self._conn._waits.get(sid, {}).get(method)
                    if waits is None:
                        continue  # nobody listens to it
                    if queue_idle and not waits:
                        params = message.get("params")
                        self._conn._dispatch(sid, method, params if isinstance(params, dict) else {})
                    else:
                        self.event_queue.put(message)
                elif "id" in message:
                    q = self.method_results.get(message["id"])
                    if q is not None:
                        q.put(message)
                    else:
                        on_reply = self._conn._on_reply.pop(message["id"], None)
                        if on_reply is None:
                            if self._conn._unanswered:
                                self._conn._answered(message)
                        elif queue_idle:  # a call_async answer, in wire order among the events
                            self._conn._replied(on_reply, message)
                        else:
                            self.event_queue.put({_REPLY: on_reply, "message": message})
            ours = self._stopped.is_set()
            self.status = self.status_stopped
            self._stopped.set()
            try:
                self._ws.close()
            except Exception:
                pass
            if not ours:
                self._conn._closed_by_peer(reason)

        def _handle_event_loop(self):
            while not self._stopped.is_set():
                try:
                    event = self.event_queue.get(timeout=0.5)
                except queue.Empty:
                    continue
                on_reply = event.get(_REPLY)
                if on_reply is not None:
                    self._conn._replied(on_reply, event["message"])
                    self.event_queue.task_done()
                    continue
                params = event.get("params")
                self._conn._dispatch(event.get("sessionId"), str(event.get("method")), params if isinstance(params, dict) else {})
                self.event_queue.task_done()

        def stop_now(self) -> None:
            self.status = self.status_stopped
            self._stopped.set()
            try:
                self._ws.close(timeout=0.5)
            except Exception:
                pass


    return _Socket


EventHandler = Callable[[dict], None]
# on_reply(result, error) of Connection.call_async: the result dict, or None and the BrowserError
ReplyHandler = Callable[[dict | None, "BrowserError | None"], None]
_REPLY = "__grok_tui_reply"  # an event-queue entry that is a call_async answer, not an event (no CDP key has this name)


class Connection:
    """One DevTools WebSocket shared by the browser (session None) and the targets attached on it.

    `call()` is always bounded by a timeout. Event callbacks run on the one event
    thread, in arrival order, get the event's params as one dict, and their
    exceptions are logged, never raised. `on_arrival` callbacks (the options guard's
    answer to a paused request) run on the receive thread first, and never wait.
    """

    def __init__(self, url: str, *, deadline_s: float = CONNECT_DEADLINE_S, on_waiting: Callable[[], None] | None = None,
                 permission_wait_s: float = PERMISSION_WAIT_S):
        self.url = url
        self._ids = threading.Lock()
        self._next_id = 0
        self._handlers: dict[str | None, dict[str, list[EventHandler]]] = {}
        self._arrival: dict[tuple[str | None, str], list[EventHandler]] = {}  # run on the receive thread
        self._unanswered: dict[int, str] = {}  # id -> method of a command sent by send_nowait, answer not in yet
        self._waits: dict[str | None, dict[str, bool]] = {}  # per event: does any of its handlers wait (not inline)?
        self._on_reply: dict[int, ReplyHandler] = {}  # call_async ids awaiting their answer
        self._close_cbs: list[Callable[[str], None]] = []
        self._once = threading.Lock()
        self.closed_reason: str | None = None
        ws = open_websocket(url, deadline_s=deadline_s, permission_wait_s=permission_wait_s, on_waiting=on_waiting)
        self._sock = _socket_class()(self, ws, url)

    @property
    def alive(self) -> bool:
        return self.closed_reason is None and not self._sock._stopped.is_set()

    def call(self, method: str, params: dict | None = None, *, session_id: str | None = None, timeout: float = 5.0) -> dict:
        if not self.alive:
            raise Disconnected(self.closed_reason or "connection closed")
        self.not_on_receiver(method)
        with self._ids:
            message = self._message(method, params, session_id)
        try:
            result = self._sock._send(message, timeout=timeout)
        except self._sock.TimeoutException:
            raise CdpTimeout(method, timeout) from None
        except self._sock.UserAbortException:
            raise Disconnected(self.closed_reason or "connection closed") from None
        except (websocket.WebSocketException, OSError) as exc:
            self._closed_by_peer(f"send failed ({exc.__class__.__name__})")
            raise Disconnected(self.closed_reason or "send failed") from None
        return _answer(method, result)

    def call_async(self, method: str, params: dict | None, on_reply: ReplyHandler, *, session_id: str | None = None) -> None:
        """Send a command and return at once; `on_reply(result, error)` runs when its answer comes, in the order
        it came among the events (an event Chrome sent before the answer is handled first), on the receiving
        thread or the event thread as an inline event handler would (see `on`): it must not wait either.

        No answer (the connection closed first): `on_reply` is not called. Raises Disconnected when the connection
        is gone already.
        """
        if not self.alive:
            raise Disconnected(self.closed_reason or "connection closed")
        self._send_unawaited(method, params, session_id, self._on_reply, functools.partial(self._reply_to, method, on_reply))

    def _send_unawaited(self, method: str, params: dict | None, session_id: str | None, pending: dict, entry) -> None:
        """Send a command whose answer nobody waits for; `pending[id] = entry` until the answer comes."""
        with self._ids:
            message = self._message(method, params, session_id)
            pending[message["id"]] = entry
        try:
            self._sock._ws.send(json.dumps(message))
        except (websocket.WebSocketException, OSError) as exc:
            pending.pop(message["id"], None)
            self._closed_by_peer(f"send failed ({exc.__class__.__name__})")
            raise Disconnected(self.closed_reason or "send failed") from None

    @staticmethod
    def _reply_to(method: str, on_reply: ReplyHandler, message: dict) -> None:
        try:
            result = _answer(method, message)
        except BrowserError as exc:
            on_reply(None, exc)
            return
        on_reply(result, None)

    def _replied(self, reply: Callable[[dict], None], message: dict) -> None:
        try:
            reply(message)
        except Exception:
            log.error("cdp: reply handler failed", exc_info=True)

    def _message(self, method: str, params: dict | None, session_id: str | None) -> dict:
        """The next command message (the caller holds `_ids`)."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session_id is not None:
            message["sessionId"] = session_id
        return message

    def call_many(self, calls: list[tuple[str, dict]], *, session_id: str | None = None, timeout: float = 5.0) -> list[dict]:
        """Send every call at once, in order, then wait for all their answers (one round trip for the lot).

        Chrome handles them in the order sent, as if each waited for the one before. `timeout` bounds
        the whole; a CdpTimeout names the first call still unanswered.
        """
        if not self.alive:
            raise Disconnected(self.closed_reason or "connection closed")
        self.not_on_receiver(calls[0][0] if calls else "call_many")
        sock = self._sock
        with self._ids:
            messages = [self._message(method, params, session_id) for method, params in calls]
        for message in messages:
            sock.method_results[message["id"]] = queue.Queue()
        try:
            try:
                for message in messages:
                    sock._ws.send(json.dumps(message))
            except (websocket.WebSocketException, OSError) as exc:
                self._closed_by_peer(f"send failed ({exc.__class__.__name__})")
                raise Disconnected(self.closed_reason or "send failed") from None
            deadline = time.monotonic() + timeout
            answers = []
            for message in messages:
                while True:
                    if sock._stopped.is_set():
                        raise Disconnected(self.closed_reason or "connection closed")
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise CdpTimeout(message["method"], timeout)
                    try:
                        result = sock.method_results[message["id"]].get(timeout=min(left, 0.5))
                        break
                    except queue.Empty:
                        continue
                answers.append(_answer(message["method"], result))
            return answers
        finally:
            for message in messages:
                sock.method_results.pop(message["id"], None)

    def send_nowait(self, method: str, params: dict | None = None, *, session_id: str | None = None) -> None:
        """Send a command and return at once: its answer is not waited for (an error answer is a DEBUG line).

        Safe on the receive thread (an arrival handler), which must never wait for an answer: it is the
        thread that reads them.
        """
        if not self.alive:
            raise Disconnected(self.closed_reason or "connection closed")
        self._send_unawaited(method, params, session_id, self._unanswered, method)

    def _answered(self, message: dict) -> None:
        method = self._unanswered.pop(message.get("id"), None)  # type: ignore[arg-type]
        if method is not None and "error" in message:
            err = message.get("error")
            log.debug("cdp: %s answered an error: %s", method, err.get("message") if isinstance(err, dict) else err)

    def on(self, event_name: str, callback: EventHandler, *, session_id: str | None = None, inline: bool = False) -> None:
        """Call `callback(params)` for each `event_name` event of `session_id`.

        `inline`: the callback never makes a CDP call that waits for its answer (it may send one with
        call_async), nor waits long otherwise. An event whose callbacks are all inline is handled on the
        receiving thread itself when the event thread has nothing queued, saving a thread hand-off;
        otherwise on the event thread. Either way one at a time, in arrival order.
        """
        waits = self._waits.setdefault(session_id, {})
        waits[event_name] = waits.get(event_name, False) or not inline
        self._handlers.setdefault(session_id, {}).setdefault(event_name, []).append(callback)

    def on_arrival(self, event_name: str, callback: EventHandler, *, session_id: str | None = None) -> None:
        """`callback(params)` on the receive thread, as the event arrives: ahead of the events still queued
        for the event thread (the event still goes to on() handlers too, in order). It must be quick and
        must not wait for any answer (send with send_nowait): no other message is read meanwhile."""
        self._arrival.setdefault((session_id, event_name), []).append(callback)

    def _on_arrival(self, message: dict) -> None:
        handlers = self._arrival.get((message.get("sessionId"), str(message.get("method"))))
        if not handlers:
            return
        params = message.get("params")
        for cb in list(handlers):
            try:
                cb(params if isinstance(params, dict) else {})
            except Exception:
                log.error("cdp: arrival handler for %s failed", message.get("method"), exc_info=True)

    def forget(self, session_id: str) -> None:
        """Drop the handlers of a session that is gone."""
        self._handlers.pop(session_id, None)
        for key in [k for k in self._arrival if k[0] == session_id]:
            self._arrival.pop(key, None)
        self._waits.pop(session_id, None)

    def not_on_receiver(self, method: str) -> None:
        """A call that waits must not come from the receiving thread: its answer would never be read."""
        if threading.current_thread() is self._sock._recv_th:
            raise CdpError(method, "a waiting call from an inline event handler (it would never get its answer)")

    def _dispatch(self, session_id, method: str, params: dict) -> None:
        for cb in list(self._handlers.get(session_id, {}).get(method, ())):
            try:
                cb(params)
            except Exception:
                log.error("cdp: handler for %s failed", method, exc_info=True)

    def on_close(self, callback: Callable[[str], None]) -> None:
        self._close_cbs.append(callback)

    def remove_on_close(self, callback: Callable[[str], None]) -> None:
        try:
            self._close_cbs.remove(callback)
        except ValueError:
            pass

    def _closed_by_peer(self, reason: str) -> None:
        with self._once:
            if self.closed_reason is not None:
                return
            self.closed_reason = reason
        self._sock.stop_now()
        self._on_reply.clear()
        self._unanswered.clear()
        for cb in list(self._close_cbs):
            try:
                cb(reason)
            except Exception:
                log.error("cdp: disconnect callback failed", exc_info=True)

    def close(self) -> None:
        """Close the socket (no close callbacks)."""
        with self._once:
            if self.closed_reason is not None:
                return
            self.closed_reason = "closed by grok-tui"
        self._sock.stop_now()
        self._on_reply.clear()
        self._unanswered.clear()


def _answer(method: str, result: object) -> dict:
    """A call's result, or a CdpError for Chrome's error answer."""
    if not isinstance(result, dict):
        raise CdpError(method, "malformed answer")
    if "error" in result and "result" not in result:
        err = result.get("error")
        msg = err.get("message") if isinstance(err, dict) else str(err)
        raise CdpError(method, str(msg))
    res = result.get("result")
    return res if isinstance(res, dict) else {}


class CdpSession:
    """One target's session on a Connection (its own WebSocket when built from a /json target).

    `call()` is serialized per session and always bounded by a timeout.
    `mark_disconnected` (target closed, detached, crashed, socket gone) fires the
    disconnect callbacks once.
    """

    def __init__(
        self,
        target: dict,
        *,
        connect_timeout: float = CONNECT_DEADLINE_S,
        connection: Connection | None = None,
        session_id: str | None = None,
    ):
        self.target = dict(target)
        self.target_id = target.get("id") or target.get("targetId")
        self._owns_connection = connection is None
        if connection is None:
            url = target.get("webSocketDebuggerUrl")
            if not isinstance(url, str):
                raise Disconnected("the tab has no DevTools socket")
            try:
                connection = Connection(url, deadline_s=connect_timeout)
            except BrowserError as exc:
                raise Disconnected(f"could not open the tab's DevTools socket ({exc})") from None
        self.connection = connection
        self.session_id = session_id
        self._lock = threading.Lock()
        self._disconnect_cbs: list[Callable[[str], None]] = []
        self._disconnected = threading.Event()
        self._disconnect_once = threading.Lock()
        self.disconnect_reason: str | None = None
        self._closed = False
        self.deadline = None  # while attaching: the attach's one deadline (endpoint.Deadline), bounding every call
        connection.on_close(self.mark_disconnected)

    @property
    def alive(self) -> bool:
        return not self._closed and not self._disconnected.is_set() and self.connection.alive

    def call(self, method: str, timeout: float = 5.0, **params) -> dict:
        if not self.alive:
            raise Disconnected(self.disconnect_reason or "session closed")
        if self.deadline is not None:
            timeout = self.deadline.bound(timeout, method)
        self.connection.not_on_receiver(method)  # before the lock: the holder may wait for an answer only we would read
        if not self._lock.acquire(timeout=timeout):
            raise CdpTimeout(method, timeout)
        try:
            if not self.alive:
                raise Disconnected(self.disconnect_reason or "session closed")
            return self.connection.call(method, params, session_id=self.session_id, timeout=timeout)
        finally:
            self._lock.release()

    def send_now(self, method: str, **params) -> None:
        """Send `method` at once, not queued behind a call of another thread, its answer not waited for.

        For the answer to a paused request, from the receive thread (`on_arrival`): it must go out
        whatever else is in flight, e.g. the click that caused the request, still waiting for its mouse
        events' answers (Chrome acknowledges the release only after the page's click handler).
        """
        if not self.alive:
            raise Disconnected(self.disconnect_reason or "session closed")
        self.connection.send_nowait(method, params, session_id=self.session_id)

    def call_async(self, method: str, on_reply: ReplyHandler, **params) -> None:
        """Send `method` without waiting (not queued behind another thread's call); `on_reply(result, error)`
        runs when the answer comes, in wire order among this connection's events (see Connection.call_async)."""
        if not self.alive:
            raise Disconnected(self.disconnect_reason or "session closed")
        self.connection.call_async(method, params, on_reply, session_id=self.session_id)

    def call_many(self, calls: list[tuple[str, dict]], timeout: float = 5.0) -> list[dict]:
        """`calls` sent at once, in order, their answers awaited together (serialized with call())."""
        if not self.alive:
            raise Disconnected(self.disconnect_reason or "session closed")
        if self.deadline is not None:
            timeout = self.deadline.bound(timeout, calls[0][0])
        self.connection.not_on_receiver(calls[0][0])
        if not self._lock.acquire(timeout=timeout):
            raise CdpTimeout(calls[0][0], timeout)
        try:
            if not self.alive:
                raise Disconnected(self.disconnect_reason or "session closed")
            return self.connection.call_many(calls, session_id=self.session_id, timeout=timeout)
        finally:
            self._lock.release()

    def on(self, event_name: str, callback: EventHandler, *, inline: bool = False) -> None:
        """See Connection.on (`inline`: the callback never waits for a CDP answer)."""
        self.connection.on(event_name, callback, session_id=self.session_id, inline=inline)

    def on_arrival(self, event_name: str, callback: EventHandler) -> None:
        """See Connection.on_arrival: on the receive thread, quick, never waiting for an answer."""
        self.connection.on_arrival(event_name, callback, session_id=self.session_id)

    def on_disconnect(self, callback: Callable[[str], None]) -> None:
        self._disconnect_cbs.append(callback)

    def mark_disconnected(self, reason: str) -> None:
        """Treat the session as gone (socket closed, tab closed, detached or crashed); callbacks fire once."""
        with self._disconnect_once:
            if self._disconnected.is_set() or self._closed:
                return
            self.disconnect_reason = reason
            self._disconnected.set()
        if self._owns_connection:
            self.connection.close()
        for cb in list(self._disconnect_cbs):
            try:
                cb(reason)
            except Exception:
                log.error("cdp: disconnect callback failed", exc_info=True)

    def close(self) -> None:
        """End the session (no disconnect callback): detach from the target, or close our own socket."""
        with self._disconnect_once:
            if self._closed:
                return
            self._closed = True
        self.connection.remove_on_close(self.mark_disconnected)
        if self._owns_connection:
            self.connection.close()
            return
        if self.connection.alive and self.session_id and not self._disconnected.is_set():
            try:
                self.connection.call("Target.detachFromTarget", {"sessionId": self.session_id}, timeout=1.0)
            except BrowserError as exc:
                log.debug("detach failed: %s", exc)
        self.connection.forget(self.session_id)
