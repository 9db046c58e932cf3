"""The layering is a checked contract: import-linter's contracts in pyproject.toml hold, and name every module."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import grok_tui

ROOT = Path(__file__).resolve().parents[1]
PKG = Path(grok_tui.__file__).parent


def contracts() -> list[dict]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]


def test_import_contracts_hold():
    """Layers (nothing imports upward), no Textual outside grok_tui.ui, no I/O in the engine."""
    lint = Path(sys.executable).parent / "lint-imports"
    p = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
    kept = re.search(r"Contracts: (\d+) kept, 0 broken\.", p.stdout)
    assert kept and int(kept.group(1)) == len(contracts()) >= 3, p.stdout[-2000:]


def test_every_module_has_a_layer():
    """A new module (of grok_tui, or of the browser package) gets a place in the layers, so a contract covers it."""
    layered = {c["containers"][0]: c["layers"] for c in contracts() if c["type"] == "layers"}
    assert set(layered) == {"grok_tui", "grok_tui.browser"}
    for container, layers in layered.items():
        folder = PKG.parent.joinpath(*container.split("."))
        placed = {name.strip() for layer in layers for name in layer.replace(":", "|").split("|")}
        modules = {p.stem for p in folder.glob("*.py") if p.stem != "__init__"}
        modules |= {p.name for p in folder.iterdir() if (p / "__init__.py").exists()}
        assert modules == placed, container
