"""A grok-tui process that attaches to the tab (SessionRunner + BrowserLink) and starts no session.

Prints {"event": "attached"} once attached, then idles until SIGTERM (the UI's idle state
without the UI).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys


async def main_async(port: int, tab: str) -> int:
    from grok_tui.browser.link import BrowserLink
    from grok_tui.runner import SessionRunner
    from grok_tui.settings import load_settings, state_dir
    from grok_tui.store import StateStore

    runner = SessionRunner(load_settings(cdp_port=port, tab=tab), StateStore(state_dir()), BrowserLink)
    await runner.attach()
    runner.start_loop()
    print(json.dumps({"event": "attached"}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.close()
    return 0


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--cdp-port", type=int, required=True)
    p.add_argument("--tab", default="/imagine/post/")
    ns = p.parse_args()
    return asyncio.run(main_async(ns.cdp_port, ns.tab))


if __name__ == "__main__":
    sys.exit(main())
