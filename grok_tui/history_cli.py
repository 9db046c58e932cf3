"""`grok-tui history [--json | --csv] [--since DATE] [--prompt TEXT]`: the recorded sessions, newest first.

Plain text for people, CSV with a header or JSON Lines (one object per session) for
spreadsheets and scripts. Skipped (corrupt or unfinished) history lines are counted
on stderr, never on stdout. Bad arguments: one sentence, exit 2 (argparse's convention,
as for every command but `run`).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from typing import TextIO

from .history import (
    EXPORT_FIELDS,
    Filter,
    HistoryError,
    HistoryReader,
    duration_text,
    newest_first,
    parse_since,
    select,
    shorten,
    totals,
    when_text,
)

EXIT_OK, EXIT_BAD_ARGS, EXIT_CANNOT_READ = 0, 2, 3


def run(ns: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    from .settings import state_dir
    from .store import HISTORY_FILE

    out, err = out or sys.stdout, err or sys.stderr
    try:
        flt = Filter(since_ms=parse_since(ns.since) if ns.since else None, prompt=ns.prompt or "")
    except HistoryError as exc:
        print(f"grok-tui: {exc}", file=err)
        return EXIT_BAD_ARGS
    reader = HistoryReader(state_dir() / HISTORY_FILE)
    try:
        reader.refresh()
    except HistoryError as exc:
        print(f"grok-tui: {exc}", file=err)
        return EXIT_CANNOT_READ
    rows = newest_first(select(reader.sessions, flt))
    try:
        if ns.format == "json":
            for r in rows:
                out.write(json.dumps(r.to_dict(), ensure_ascii=False) + "\n")
        elif ns.format == "csv":
            w = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
            w.writeheader()
            w.writerows(r.to_dict() for r in rows)
        else:
            _text(rows, out)
        out.flush()
    except BrokenPipeError:  # `grok-tui history | head`: the reader has had enough
        if out is sys.stdout:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to flush at exit
        return EXIT_OK
    note = reader.skipped_note()
    if note:
        print(f"grok-tui: warning: {note}", file=err)
    return EXIT_OK


def _text(rows: list, out: TextIO) -> None:
    if not rows:
        out.write("No recorded sessions.\n")
        return
    head = f"{'when':16}  {'outcome':9}  {'videos':>6}  {'retries':>7}  {'credits':>7}  {'L1/L2/L3':>8}  {'time':>6}  prompt"
    out.write(head + "\n")
    for r in rows:
        layers = f"{r.l1}/{r.l2}/{r.l3}"
        out.write(
            f"{when_text(r.ended_at):16}  {r.outcome:9}  {f'{r.videos}/{r.goal}':>6}  "
            f"{f'{r.retries}/{r.max_retries}':>7}  {r.credits:>7}  {layers:>8}  {duration_text(r.duration_s):>6}  "
            f"{shorten(r.prompt, 60) or '–'}\n"
        )
    t = totals(rows)
    out.write(
        f"{t['sessions']} session(s): {t['success']} success, {t['failure']} failure, {t['cancelled']} cancelled; "
        f"videos {t['videos']}, credits {t['credits']}, L1 {t['l1']} · L2 {t['l2']} · L3 {t['l3']}\n"
    )
