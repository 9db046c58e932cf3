"""Serve the simulated Grok site in its own process (so its CPU and GIL are not the benchmark's).

Prints one JSON line {"base": ..., "post": ...} when it is serving, then runs until killed.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time

from grok_tui.sim import SimSite


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--script", default="")
    p.add_argument("--default", default="ok")
    p.add_argument("--step-ms", type=int, default=20)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--toast-ms", type=int, default=1000)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--video-size", type=int, default=0, help="pad each served MP4 to this many bytes")
    ns = p.parse_args()
    extra = {"video_size": ns.video_size} if ns.video_size else {}
    site = SimSite(ns.script, default=ns.default, step_ms=ns.step_ms, steps=ns.steps, toast_ms=ns.toast_ms, port=ns.port,
                   **extra).start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(json.dumps({"base": site.base_url, "post": site.post_url()}), flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        site.stop()


if __name__ == "__main__":
    sys.exit(main())
