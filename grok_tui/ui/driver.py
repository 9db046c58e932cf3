"""The terminal driver: Textual's LinuxDriver, with an input thread that sleeps while nothing is typed.

Textual's input thread waits for the terminal with a 0.1 s timeout, so that it notices the app
stopping and can let the key parser time out a lone Esc: ten wake-ups a second, which were most
of the idle app's CPU (~0.2 % of a core on the project's machine, 6 of its 7 clock ticks in 30 s).
Here the thread also waits on a pipe that `exit_event.set()` writes to, so it can block until
there is input; it keeps Textual's 0.1 s pace only for a short while after input (long enough
for the parser's escape delay to pass), then sleeps again.
"""

from __future__ import annotations

import os
import selectors
import threading
import time
from codecs import getincrementaldecoder
from typing import Any

from textual import constants
from textual._parser import ParseError
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

TICK_S = 0.1  # Textual's own pace, while input is recent
QUIET_S = 60.0  # the longest sleep once input has been quiet (a pipe wakes it sooner when the app stops)


def recent_input_s() -> float:
    """How long after input the thread keeps ticking: several of the parser's escape delays."""
    return max(0.5, 3 * float(getattr(constants, "ESCAPE_DELAY", 0.1)))


class _WakingEvent(threading.Event):
    """An Event whose set() also writes a byte to a pipe, waking a select() that waits on it."""

    def __init__(self, wake_fd: int) -> None:
        super().__init__()
        self._wake_fd = wake_fd

    def set(self) -> None:
        super().set()
        try:
            os.write(self._wake_fd, b"x")
        except OSError:  # closed, or full (then a wake-up is already waiting)
            pass


class QuietLinuxDriver(LinuxDriver):
    """LinuxDriver whose input thread blocks until input, or until the app stops."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self.exit_event = _WakingEvent(self._wake_w)

    def close(self) -> None:
        super().close()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def run_input_thread(self) -> None:
        """Textual's input loop (LinuxDriver.run_input_thread), with a timeout that follows the input."""
        selector = selectors.SelectSelector()
        fileno, wake = self.fileno, self._wake_r
        selector.register(fileno, selectors.EVENT_READ)
        selector.register(wake, selectors.EVENT_READ)
        parser = XTermParser(self._debug)
        feed, tick = parser.feed, parser.tick
        decode = getincrementaldecoder("utf-8")().decode
        keep_ticking = recent_input_s()
        last_input = time.monotonic()

        def process(events: list, final: bool = False) -> bool:
            """Feed what the terminal sent to the parser; True when something was read."""
            got = False
            for key, mask in events:
                if key.fd == wake:
                    try:
                        os.read(wake, 64)
                    except OSError:
                        pass
                    continue
                if mask & selectors.EVENT_READ:
                    data = decode(os.read(fileno, 1024 * 4), final=final)
                    if not data:  # stdin is a closed pipe
                        break
                    got = True
                    for event in feed(data):
                        self.process_message(event)
            for event in tick():
                self.process_message(event)
            return got

        try:
            while not self.exit_event.is_set():
                quiet = time.monotonic() - last_input > keep_ticking
                if process(selector.select(QUIET_S if quiet else TICK_S)):
                    last_input = time.monotonic()
            selector.unregister(fileno)
            process(selector.select(TICK_S), final=True)
        finally:
            selector.close()
            try:
                for _event in feed(""):
                    pass
            except (EOFError, ParseError):
                pass


def driver_class(default: type) -> type:
    """The driver to use instead of `default` (what Textual picked): the quiet one in place of LinuxDriver."""
    return QuietLinuxDriver if default is LinuxDriver else default
