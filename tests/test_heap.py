"""grok_tui.heap: trim() hands the C heap's free pages back to the system (glibc's malloc_trim)."""

from __future__ import annotations

import threading

from grok_tui import heap


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_trim_gives_back_what_a_thread_freed():
    kept = []

    def churn() -> None:
        blocks = [bytes(1000) + i.to_bytes(4, "little") for i in range(40_000)]  # ~40 MB on this thread's arena
        kept.extend(blocks[::10])  # every 10th stays: the freed memory lies between live blocks, not at the top

    t = threading.Thread(target=churn)
    t.start()
    t.join()
    before = rss_kb()
    assert heap.trim() is True
    assert before - rss_kb() > 10_000  # kB: most of the ~36 MB freed; glibc alone keeps it all
    assert len(kept) == 4_000
