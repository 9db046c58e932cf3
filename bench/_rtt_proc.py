"""A CDP round-trip probe in its own process: the machine's and Chromium's floor, without grok-tui.

  python bench/_rtt_proc.py WS_URL [GAP_S]

Connects its own websocket to the page target (a second client; Chrome serves several), then every
GAP_S (0.05) sends `Runtime.evaluate("1")` and waits for its answer, until stdin closes (or a line
arrives on it). Then it prints one JSON line: {"rtt_ms": [...]} and exits. Nothing but the standard
library and websocket-client: no grok-tui module, no asyncio, no other thread, so what it measures is
Chromium answering a client and this machine waking the client, not grok-tui's own threads or GIL.
"""

from __future__ import annotations

import json
import sys
import threading
import time

import websocket


def main() -> int:
    url = sys.argv[1]
    gap = float(sys.argv[2]) if len(sys.argv) > 2 else 0.05
    stop = threading.Event()

    def watch_stdin() -> None:
        sys.stdin.readline()
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    ws = websocket.create_connection(url, suppress_origin=True, timeout=10)
    out: list[float] = []
    n = 0
    print("ready", flush=True)
    try:
        while not stop.wait(gap):
            n += 1
            t0 = time.perf_counter()
            ws.send(json.dumps({"id": n, "method": "Runtime.evaluate", "params": {"expression": "1", "returnByValue": True}}))
            while True:  # the page session may also send events: only our answer counts
                msg = json.loads(ws.recv())
                if msg.get("id") == n:
                    break
            out.append((time.perf_counter() - t0) * 1000.0)
    except Exception as exc:  # the page went away at the end of the run: report what was measured
        print(f"rtt probe stopped: {exc}", file=sys.stderr)
    finally:
        try:
            ws.close()
        except Exception:
            pass
    print(json.dumps({"rtt_ms": out}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
