"""Run every benchmark one after another (never in parallel: they measure time and CPU) and print
all their JSON lines. `--quick` is passed on to each. Exit status: 1 if any benchmark failed."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ("detection_latency", "pacing", "cpu", "memory", "startup", "history", "downloads", "batch")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="the small, fast run of each benchmark")
    p.add_argument("only", nargs="*", help=f"run only these benchmarks ({', '.join(SCRIPTS)})")
    ns = p.parse_args()
    bad = [n for n in ns.only if n not in SCRIPTS]
    if bad:
        p.error(f"unknown benchmark(s): {', '.join(bad)}")
    failed = []
    for name in ns.only or SCRIPTS:
        cmd = [sys.executable, str(HERE / f"{name}.py")] + (["--quick"] if ns.quick else [])
        print(f"[run_all] {name}", file=sys.stderr, flush=True)
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        sys.stdout.write(proc.stdout)
        sys.stdout.flush()
        if proc.returncode != 0:
            failed.append(name)
            print(f"[run_all] {name} exited {proc.returncode}", file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
