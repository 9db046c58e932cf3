"""Against a baseline: detection latency and pacing of this tree and of an earlier revision, in one run.

The baseline (`--rev`, default 3b2c08f: main just before the browser-endpoint rework of issue 11)
is checked out as a temporary `git worktree add --detach` (removed at the end, also after an
error or Ctrl-C). Each of `--rounds` paired rounds runs bench/detection_latency.py and then
bench/pacing.py of BOTH trees, back to back, as subprocesses: the same venv, the same Chromium,
each tree's own code (its package, its bench scripts, its sim) first on PYTHONPATH. The order
flips every round (current, baseline / baseline, current / ...), so that warm-up and the drift
of a loaded machine fall on both sides alike. `--quick` runs the scripts' own `--quick`; a full
run gives them `--goal` videos (detection) and `--retries` (pacing). `--same-sim` copies this
tree's grok_tui/sim into the baseline's worktree first, so that both clients run against the same
simulated site and a difference is grok-tui's, not the sim's (the summary says `baseline_sim`).

Compared are only figures both trees' scripts produce with the same meaning (both read the same
sim records the same way at 3b2c08f): detection, network path, all objects and the `newline` /
`joined` objects (by_mode; `split` carries the sim's deliberate pause), p50 and p99; detection,
DOM toast, p50 and p99; pacing error against the engine's moderation and the request at the
server against the deadline (`vs_server`), p50 and p99. Besides, any entry of a line's
`figures` (name -> value in ms) that both trees print under the same name. Lines that are not
JSON, and keys one tree lacks, are skipped (listed in the summary).

One line per figure: each round's value for both trees, `diffs` (current - baseline, per round),
`ci95_diff` (95 % bootstrap interval of the median difference, the rounds resampled) and
`no_worse`, the rule of bench/downloads.py (_common.no_worse): the interval's upper end within
the tolerance of the baseline's value (p50: max(1 ms, 10 %); p99: max(5 ms, 30 %)). Then a
summary line. The exit status is 0 whatever the verdict; non-zero only when something did not run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

SCRIPTS = ("detection_latency", "pacing")
# name, script, the line it is on (key: value), keys to the value, percentile (for the tolerance)
NET, DOM = {"path": "network"}, {"path": "dom"}
FIGURES = (
    ("detection, network, p50", "detection_latency", NET, ("p50_ms",), 50),
    ("detection, network, p99", "detection_latency", NET, ("p99_ms",), 99),
    ("detection, network (newline objects), p50", "detection_latency", NET, ("by_mode", "newline", "p50_ms"), 50),
    ("detection, network (newline objects), p99", "detection_latency", NET, ("by_mode", "newline", "p99_ms"), 99),
    ("detection, network (joined objects), p50", "detection_latency", NET, ("by_mode", "joined", "p50_ms"), 50),
    ("detection, network (joined objects), p99", "detection_latency", NET, ("by_mode", "joined", "p99_ms"), 99),
    ("detection, DOM toast, p50", "detection_latency", DOM, ("p50_ms",), 50),
    ("detection, DOM toast, p99", "detection_latency", DOM, ("p99_ms",), 99),
    ("pacing error vs the engine's moderation, p50", "pacing", {}, ("p50_ms",), 50),
    ("pacing error vs the engine's moderation, p99", "pacing", {}, ("p99_ms",), 99),
    ("pacing, request at the server vs deadline, p50", "pacing", {}, ("vs_server", "p50_ms"), 50),
    ("pacing, request at the server vs deadline, p99", "pacing", {}, ("vs_server", "p99_ms"), 99),
)


class Failed(Exception):
    """Something did not run (git, a script, an import from the wrong tree): one sentence."""


def git(*args: str) -> str:
    proc = subprocess.run(["git", "-C", str(C.ROOT), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise Failed(f"git {' '.join(args)} failed: {proc.stderr.strip() or proc.returncode}")
    return proc.stdout.strip()


# ----------------------------------------------------------------------------- the trees


class Baseline:
    """REV as a temporary detached worktree; `close()` removes it (idempotent)."""

    def __init__(self, sha: str):
        self.parent = Path(tempfile.mkdtemp(prefix="grok-tui-against-"))
        self.path = self.parent / "tree"
        self.added = False
        git("worktree", "add", "--detach", "--quiet", str(self.path), sha)
        self.added = True

    def close(self) -> None:
        if self.added:
            subprocess.run(["git", "-C", str(C.ROOT), "worktree", "remove", "--force", str(self.path)],
                           capture_output=True, text=True)
            subprocess.run(["git", "-C", str(C.ROOT), "worktree", "prune"], capture_output=True, text=True)
            self.added = False
        shutil.rmtree(self.parent, ignore_errors=True)


def tree_env(tree: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tree)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def check_imports(tree: Path) -> None:
    """The scripts of `tree` import `tree`'s grok_tui (not the venv's editable install of another tree)."""
    proc = subprocess.run([sys.executable, "-c", "import grok_tui; print(grok_tui.__file__)"], cwd=tree / "bench",
                          env=tree_env(tree), capture_output=True, text=True)
    got = Path(proc.stdout.strip() or "?").resolve()
    if proc.returncode != 0 or tree.resolve() not in got.parents:
        raise Failed(f"with {tree} first on PYTHONPATH, Python imports grok_tui from {got}, not from that tree")


def script_args(tree: Path, name: str, ns) -> list[str]:
    """The options a run gives the script; an option the tree's script does not know is left out."""
    if ns.quick:
        wanted = [("--quick", None)]
    elif name == "detection_latency":
        wanted = [("--goal", ns.goal)]
    else:
        wanted = [("--retries", ns.retries)]
    text = (tree / "bench" / f"{name}.py").read_text(encoding="utf-8")
    out: list[str] = []
    for opt, value in wanted:
        if f'"{opt}"' in text:
            out += [opt] if value is None else [opt, str(value)]
        else:
            C.note(f"against: {tree}'s {name}.py has no {opt}; run without it")
    return out


def run_script(tree: Path, name: str, ns) -> tuple[list[dict], float]:
    """One run of `tree`/bench/`name`.py: its JSON lines and its wall time (s)."""
    cmd = [sys.executable, str(tree / "bench" / f"{name}.py"), *script_args(tree, name, ns)]
    t0 = time.time()
    proc = subprocess.Popen(cmd, cwd=tree, env=tree_env(tree), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)
    try:
        out, err = proc.communicate(timeout=ns.timeout)
    except subprocess.TimeoutExpired:
        raise Failed(f"{tree}/bench/{name}.py did not finish in {ns.timeout:.0f} s") from None
    finally:
        if proc.poll() is None:  # interrupted or timed out: let it close its Chromium and sim first
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    if proc.returncode != 0:
        tail = "\n".join(err.strip().splitlines()[-15:])
        raise Failed(f"{tree}/bench/{name}.py exited {proc.returncode}:\n{tail}")
    lines = []
    for line in out.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            lines.append(obj)
    return lines, time.time() - t0


# ----------------------------------------------------------------------------- the figures


def dig(obj, keys):
    for k in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(k)
    return obj if isinstance(obj, (int, float)) and not isinstance(obj, bool) else None


def values_of(name: str, lines: list[dict]) -> dict[str, tuple[float, float]]:
    """Figure name -> (value, percentile) from one script's lines."""
    out: dict[str, tuple[float, float]] = {}
    for fig, script, where, keys, q in FIGURES:
        if script != name:
            continue
        for obj in lines:
            if obj.get("bench") == script and all(obj.get(k) == v for k, v in where.items()):
                v = dig(obj, keys)
                if v is not None:
                    out[fig] = (float(v), q)
                break
    for obj in lines:  # the scripts' own named figures: {"figures": {name: {"value": .., "unit": "ms"}}}
        figs = obj.get("figures") if obj.get("bench") == name else None
        for fig, body in (figs.items() if isinstance(figs, dict) else ()):
            v = dig(body, ("value",)) if isinstance(body, dict) and body.get("unit", "ms") == "ms" else None
            if v is not None and fig not in out:
                m = re.search(r"\bp(\d+)\b", fig)
                out[f"{name}: {fig}"] = (float(v), float(m.group(1)) if m else 90.0)
    return out


def judge(fig: str, q: float, cur: list, base: list, ns, revs: dict) -> dict:
    pairs = [(c, b) for c, b in zip(cur, base) if c is not None and b is not None]
    diffs = [c - b for c, b in pairs]
    median = lambda xs: C.pct(xs, 50)  # noqa: E731
    current, baseline = median([c for c, _ in pairs]), median([b for _, b in pairs])
    ci = C.bootstrap_interval(lambda s: median(s[0]), [diffs], ns.reps, random.Random(ns.seed)) if diffs else None
    tol = C.tolerance(baseline, q)
    verdict = C.no_worse(ci, tol)
    out = {
        "bench": "against", "what": "figure", "figure": fig, "unit": "ms", "n": len(pairs),
        "current_ms": C.r(current), "baseline_ms": C.r(baseline),
        "current_rounds_ms": [C.r(c) for c in cur], "baseline_rounds_ms": [C.r(b) for b in base],
        "diffs_ms": [C.r(d) for d in diffs], "median_diff_ms": C.r(median(diffs)),
        "rounds_worse": sum(1 for d in diffs if d > 0), "ci95_diff_ms": ci, "tolerance_ms": C.r(tol),
        "no_worse": verdict, **revs,
    }
    if verdict is not None:  # for run_all's summary: the difference's upper end against the tolerance
        out["figures"] = {f"against {revs['rev_baseline'][:7]}: {fig}, difference (upper 95 %)": C.figure(ci[1], C.r(tol))}
    return out


# ----------------------------------------------------------------------------- the run


def run(ns, sha: str) -> int:
    t_start = time.time()
    cur_rev = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    revs = {"rev_current": cur_rev + ("+changes" if dirty else ""), "rev_baseline": sha}
    sim_differs = subprocess.run(["git", "-C", str(C.ROOT), "diff", "--quiet", sha, "--", "grok_tui/sim"]).returncode != 0
    base = Baseline(sha)
    try:
        if ns.same_sim and sim_differs:  # the baseline's client against this tree's sim: only grok-tui differs
            shutil.rmtree(base.path / "grok_tui" / "sim")
            shutil.copytree(C.ROOT / "grok_tui" / "sim", base.path / "grok_tui" / "sim",
                            ignore=shutil.ignore_patterns("__pycache__"))
            revs["baseline_sim"] = "current"
        trees = {"current": C.ROOT, "baseline": base.path}
        for side, tree in trees.items():
            for name in SCRIPTS:
                if not (tree / "bench" / f"{name}.py").exists():
                    raise Failed(f"the {side} tree has no bench/{name}.py")
            check_imports(tree)
        values: dict[str, dict[str, dict[int, float]]] = {"current": {}, "baseline": {}}  # side -> figure -> round -> value
        qs: dict[str, float] = {}
        walls: dict[str, dict[str, list]] = {n: {"current": [], "baseline": []} for n in SCRIPTS}
        for i in range(ns.rounds):
            order = ("current", "baseline") if i % 2 == 0 else ("baseline", "current")
            for name in SCRIPTS:
                for side in order:
                    lines, wall = run_script(trees[side], name, ns)
                    walls[name][side].append(C.r(wall, 1))
                    C.note(f"against: round {i + 1}/{ns.rounds} {name} {side}: {wall:.1f} s")
                    for fig, (v, q) in values_of(name, lines).items():
                        qs.setdefault(fig, q)
                        values[side].setdefault(fig, {})[i] = v
        both = [f for f in qs if f in values["current"] and f in values["baseline"]]
        worse, unknown = [], []
        for fig in both:
            cur, bas = ([values[side][fig].get(i) for i in range(ns.rounds)] for side in ("current", "baseline"))
            line = judge(fig, qs[fig], cur, bas, ns, revs)
            C.emit(line)
            if line["no_worse"] is False:
                worse.append(fig)
            elif line["no_worse"] is None:
                unknown.append(fig)
        C.emit({"bench": "against", "what": "summary", "n": ns.rounds, **revs, "figures_compared": len(both),
                "no_worse": not worse and not unknown and bool(both), "worse": worse, "no_verdict": unknown,
                "only_current": sorted(set(values["current"]) - set(values["baseline"])),
                "only_baseline": sorted(set(values["baseline"]) - set(values["current"])),
                "order": "current,baseline then baseline,current, alternating", "quick": ns.quick,
                "sim_differs": sim_differs, "baseline_tree": str(base.path), "run_s": walls,
                "wall_s": C.r(time.time() - t_start, 1)})
        return 0
    finally:
        base.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rev", default="3b2c08f", help="the baseline revision (default 3b2c08f, before issue 11's rework)")
    p.add_argument("--rounds", type=int, default=None, help="paired rounds (default 6; --quick 2)")
    p.add_argument("--quick", action="store_true", help="2 rounds of the scripts' own --quick runs")
    p.add_argument("--goal", type=int, default=20, help="detection_latency's --goal in a full run (default 20: 100 attempts)")
    p.add_argument("--retries", type=int, default=60, help="pacing's --retries in a full run (default 60)")
    p.add_argument("--same-sim", action="store_true",
                   help="run the baseline's scripts against this tree's sim (grok_tui/sim copied into the baseline), "
                        "so that only grok-tui differs")
    p.add_argument("--reps", type=int, default=2000, help="bootstrap resamples (default 2000)")
    p.add_argument("--seed", type=int, default=13, help="of the bootstrap's resampling")
    p.add_argument("--timeout", type=float, default=1800.0, help="per script run, s")
    ns = p.parse_args()
    if ns.rounds is None:
        ns.rounds = 2 if ns.quick else 6
    if ns.rounds < 1:
        p.error("--rounds must be at least 1")
    try:
        sha = git("rev-parse", "--verify", "--quiet", f"{ns.rev}^{{commit}}")
    except Failed:
        p.error(f"{ns.rev!r} is not a commit of this repository")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the worktree goes in run()'s finally
    try:
        return run(ns, sha)
    except Failed as exc:
        C.note(f"against: {exc}")
        return 1
    except KeyboardInterrupt:
        C.note("against: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
