"""Run every benchmark one after another (never in parallel: they measure time and CPU) and print
all their JSON lines. `--quick` is passed on to each. Exit status: 1 if any benchmark failed.
`against` (bench/against.py, last) runs detection_latency and pacing again, of this tree and of
an earlier revision, in paired rounds: its lines say whether those figures are no worse.

The last line, {"bench": "summary", "figures": {...}}, gathers every line's issue-15 `figures`
(value, target, met); the same as a table on stderr."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ("detection_latency", "pacing", "cpu", "memory", "startup", "history", "downloads", "batch", "against")

# against: the baseline's client against this tree's sim, so that a difference is grok-tui's (the sim
# changed a lot since 3b2c08f; with each tree's own sim the lighter old sim gave the old client better p99s)
EXTRA = {"against": ["--same-sim"]}

def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="the small, fast run of each benchmark")
    p.add_argument("only", nargs="*", help=f"run only these benchmarks ({', '.join(SCRIPTS)})")
    ns = p.parse_args()
    bad = [n for n in ns.only if n not in SCRIPTS]
    if bad:
        p.error(f"unknown benchmark(s): {', '.join(bad)}")
    failed = []
    figures: dict[str, dict] = {}
    for name in ns.only or SCRIPTS:
        cmd = [sys.executable, str(HERE / f"{name}.py")] + (["--quick"] if ns.quick else []) + EXTRA.get(name, [])
        print(f"[run_all] {name}", file=sys.stderr, flush=True)
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        sys.stdout.write(proc.stdout)
        sys.stdout.flush()
        for line in proc.stdout.splitlines():
            try:
                figures.update(json.loads(line).get("figures") or {})
            except (ValueError, AttributeError):
                pass
        if proc.returncode != 0:
            failed.append(name)
            print(f"[run_all] {name} exited {proc.returncode}", file=sys.stderr, flush=True)
    if figures:
        print(json.dumps({"bench": "summary", "n": len(figures), "figures": figures,
                          "met": all(f["met"] for f in figures.values())}), flush=True)
        width = max(len(k) for k in figures)
        for k, f in figures.items():
            print(f"[run_all] {k:<{width}}  {f['value']} {f['unit']} (target <= {f['target']}): "
                  f"{'met' if f['met'] else 'NOT met'}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
