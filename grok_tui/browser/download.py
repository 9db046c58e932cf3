"""Reading a video through the browser's own session: `Network.loadNetworkResource` + `IO.read`.

Chrome loads the URL for the page's frame with the page's credentials (its cookies go
from the browser to the video host, cross-origin too, as on assets.grok.com); grok-tui
only receives the body, in chunks. No cookie, header value or token passes through
here: of the response headers only Content-Length and Content-Type are kept.

A download yields to detection: while `busy()` says a generation stream is open, the body
is read at no more than BUSY_RATE, and no read starts while `hold()` asks to wait (for a
moment after each sign of life of a stream: its request, response, data), so that the
browser is not busy with a read when the stream's next events come. Every byte read costs
the browser (its process encodes each IO.read answer in base64 and sends it on the DevTools
socket that also carries the stream's events) and the video host; read at full speed, that
work takes most of a core and delays the stream's events (measured: the same delay with the
reading done by another process that only discards the answers, so it is not grok-tui's own
decoding, hashing or writing). With nothing to detect, the body is read at full speed.
"""

from __future__ import annotations

import base64
import time
from typing import Callable, Iterator
from urllib.parse import urljoin

from ..downloads import DownloadError, Response, strip_query
from .cdp import BrowserError

READ_CHUNK = 256 * 1024  # bytes per IO.read
BUSY_RATE = 4_000_000  # bytes per second at most while a generation stream is open (5 MB: ~1.3 s)
MAX_HOLD_S = 2.0  # the longest a download waits on `hold()` before it reads one chunk anyway
LOAD_TIMEOUT_S = 120.0
READ_TIMEOUT_S = 30.0
_KEEP_HEADERS = ("content-length", "content-type")

Call = Callable[..., dict]  # call(method, timeout=..., **params) -> result


def resolve(url: str, page_url: str | None) -> str:
    """An absolute URL for `url` as the page would resolve it."""
    return urljoin(page_url, url) if page_url else url


def fetch_resource(
    call: Call,
    url: str,
    *,
    frame_id: str | None,
    load_timeout: float = LOAD_TIMEOUT_S,
    read_timeout: float = READ_TIMEOUT_S,
    chunk: int = READ_CHUNK,
    busy: Callable[[], bool] | None = None,
    busy_rate: float = BUSY_RATE,
    hold: Callable[[], float] | None = None,
) -> Response:
    """Start loading `url` in the browser; the body is read lazily from the returned Response.

    `busy()` (asked before each read): True while detection must not be slowed down; the body is
    then read at no more than `busy_rate` bytes per second. `hold()` (asked before each read, too):
    seconds to wait before the next read (a generation stream's events may be on their way); asked
    again after the wait, so a stream that keeps giving data keeps the read waiting, for at most
    MAX_HOLD_S at a time.
    """
    params: dict = {"url": url, "options": {"disableCache": False, "includeCredentials": True}}
    if frame_id:
        params["frameId"] = frame_id
    try:
        res = call("Network.loadNetworkResource", timeout=load_timeout, **params)
    except BrowserError as exc:
        raise DownloadError(f"the browser could not load {strip_query(url)}: {exc}") from None
    r = res.get("resource") if isinstance(res, dict) else None
    if not isinstance(r, dict):
        raise DownloadError("the browser gave no answer for the video")
    status = r.get("httpStatusCode")
    status = int(status) if isinstance(status, (int, float)) else None
    raw_headers = r.get("headers") if isinstance(r.get("headers"), dict) else {}
    headers = {k.lower(): str(v) for k, v in raw_headers.items() if isinstance(k, str) and k.lower() in _KEEP_HEADERS}
    handle = r.get("stream")
    if not r.get("success"):
        if isinstance(handle, str):
            _close(call, handle)
        if status is not None and status >= 400:
            return Response(status, headers, iter(()))
        name = r.get("netErrorName") or f"error {r.get('netError', '?')}"
        raise DownloadError(f"the browser could not load the video ({name})")
    if not isinstance(handle, str):
        raise DownloadError("the browser loaded the video but gave no stream to read")
    return Response(status, headers, _read(call, handle, read_timeout, chunk, busy, busy_rate, hold))


def _wait_hold(hold: Callable[[], float] | None) -> bool:
    """Wait while `hold()` asks to, for at most MAX_HOLD_S in all; True if it waited."""
    if hold is None:
        return False
    deadline = time.monotonic() + MAX_HOLD_S
    waited = False
    while (wait := min(hold(), deadline - time.monotonic())) > 0:
        time.sleep(wait)
        waited = True
    return waited


def _read(call: Call, handle: str, timeout: float, chunk: int, busy: Callable[[], bool] | None = None,
          busy_rate: float = BUSY_RATE, hold: Callable[[], float] | None = None) -> Iterator[bytes]:
    empty = 0
    paced_from: float | None = None  # while busy: when the paced stretch began, and its bytes so far
    paced = 0
    try:
        while True:
            slow = busy is not None and busy()
            if not slow:
                paced_from = None
            elif paced_from is None:
                paced_from, paced = time.monotonic(), 0
            if _wait_hold(hold) and paced_from is not None:
                paced_from, paced = time.monotonic(), 0  # no catching up on the held time in a burst
            try:
                d = call("IO.read", timeout=timeout, handle=handle, size=chunk)
            except BrowserError as exc:
                raise DownloadError(f"reading the video from the browser failed: {exc}") from None
            data = d.get("data")
            if isinstance(data, str) and data:
                raw = base64.b64decode(data) if d.get("base64Encoded") else data.encode("utf-8")
                yield raw
                paced += len(raw)
            if d.get("eof"):
                return
            empty = 0 if data else empty + 1
            if paced_from is not None:
                wait = paced_from + paced / busy_rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            if empty > 100:
                raise DownloadError("the browser's stream stopped giving data")
    finally:
        _close(call, handle)


def _close(call: Call, handle: str) -> None:
    try:
        call("IO.close", timeout=2.0, handle=handle)
    except BrowserError:
        pass
