"""The core never imports Textual: engine, browser link, runner, sim, settings and store work without the UI."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grok_tui

PKG = Path(grok_tui.__file__).parent
CORE = ["engine", "browser", "sim", "runner.py", "settings.py", "store.py", "redact.py", "ui/export.py"]


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_modules_do_not_import_textual():
    files = []
    for part in CORE:
        p = PKG / part
        files += sorted(p.rglob("*.py")) if p.is_dir() else [p]
    assert len(files) > 10
    offenders = {str(f.relative_to(PKG)): m for f in files for m in imported_modules(f) if m.split(".")[0] == "textual"}
    assert offenders == {}


def test_engine_imports_nothing_with_io():
    allowed = {"__future__", "dataclasses", "enum", "typing", "collections", "time"}
    for f in (PKG / "engine").rglob("*.py"):
        for m in imported_modules(f):
            assert m.split(".")[0] in allowed, (f.name, m)


def test_headless_path_loads_without_textual():
    code = (
        "import sys, grok_tui.cli, grok_tui.runner, grok_tui.browser.link, grok_tui.sim, grok_tui.ui.export;"
        "assert not any(m == 'textual' or m.startswith('textual.') for m in sys.modules), 'textual imported'"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr


def test_chrome_command_starts_a_debuggable_browser(tmp_path):
    from grok_tui.browser.launcher import free_port

    port = free_port()
    profile = tmp_path / "profile"
    p = subprocess.run(
        [sys.executable, "-m", "grok_tui", "chrome", "--headless", "--port", str(port), "--profile", str(profile),
         "--url", "about:blank"],
        capture_output=True, text=True, timeout=60,
    )
    assert p.returncode == 0, p.stderr
    assert f"remote debugging on 127.0.0.1:{port}" in p.stdout
    assert str(profile) in p.stdout and "Chrome 136+" in p.stdout
    assert f"grok-tui --cdp-port {port}" in p.stdout
    assert profile.is_dir() and any(profile.iterdir())  # a dedicated, persistent profile


# The browser package, lowest layer first: a module imports only modules of layers below its own.
BROWSER_LAYERS = [
    {"signals", "stream", "observer", "cdp", "launcher", "options"},
    {"attempts", "endpoint", "tabs", "download"},
    {"page"},
    {"dom", "network"},
    {"actions", "guard"},
    {"link"},
]


def browser_imports(path: Path) -> set[str]:
    """The sibling browser modules `path` imports (relative `from .x import` or absolute)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                out.add(node.module.split(".")[0])
            elif node.level == 1:
                out |= {a.name for a in node.names}
            elif node.level == 0 and (node.module or "").startswith("grok_tui.browser."):
                out.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[2] for a in node.names if a.name.startswith("grok_tui.browser.")}
    return out


def test_browser_modules_import_only_downward():
    files = {p.stem: p for p in (PKG / "browser").glob("*.py") if p.stem != "__init__"}
    layer_of = {m: i for i, layer in enumerate(BROWSER_LAYERS) for m in layer}
    assert set(files) == set(layer_of), "every browser module has a layer"
    upward = {
        (name, imported)
        for name, path in files.items()
        for imported in browser_imports(path)
        if layer_of[imported] >= layer_of[name]
    }
    assert upward == set()
    # The check sees imports: link (the façade) imports every concern module.
    assert {"actions", "dom", "network", "page", "attempts", "cdp"} <= browser_imports(files["link"])
