"""Theme files: small TOML files validated by a pydantic model, loaded as Textual themes.

Built-in themes live in `<repo>/themes` in a source checkout and in
`grok_tui/_themes` in an installed wheel; user themes in
`<config dir>/grok-tui/themes/*.toml` (next to the config file). See themes/README.md.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from textual.color import Color, ColorParseError
from textual.theme import BUILTIN_THEMES, Theme

from ..settings import config_file

DEFAULT_THEME = "grok-dark"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_COLOR_FIELDS = (
    "primary",
    "secondary",
    "accent",
    "background",
    "surface",
    "panel",
    "foreground",
    "boost",
    "success",
    "warning",
    "error",
)


class ThemeError(Exception):
    """A theme name that names no theme, or an invalid theme file; one message for the user."""


class ThemeFile(BaseModel):
    """The TOML theme format (documented in themes/README.md)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    dark: bool
    primary: str
    secondary: str | None = None
    accent: str | None = None
    background: str | None = None
    surface: str | None = None
    panel: str | None = None
    foreground: str | None = None
    boost: str | None = None
    success: str | None = None
    warning: str | None = None
    error: str | None = None
    luminosity_spread: float = Field(0.15, ge=0, le=1)
    text_alpha: float = Field(0.95, ge=0, le=1)
    variables: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _check_name(cls, v: str) -> str:
        if not _NAME_RE.match(v):
            raise ValueError("must be letters, digits, '-', '_' or '.' (at most 64)")
        return v

    @field_validator(*_COLOR_FIELDS)
    @classmethod
    def _check_color(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            Color.parse(v)
        except ColorParseError:
            raise ValueError(f"{v!r} is not a colour") from None
        return v

    def to_theme(self) -> Theme:
        return Theme(**self.model_dump())


def builtin_theme_dir() -> Path:
    """`grok_tui/_themes` in an installed wheel, else `<repo>/themes` in a source checkout."""
    pkg = Path(__file__).resolve().parent.parent
    wheel = pkg / "_themes"
    if wheel.is_dir():
        return wheel
    return pkg.parent / "themes"


def user_theme_dir() -> Path:
    """`<config dir>/grok-tui/themes` (platformdirs.user_config_dir; follows GROK_TUI_CONFIG_FILE)."""
    return config_file().parent / "themes"


def load_theme_file(path: Path) -> Theme:
    try:
        with Path(path).open("rb") as fh:
            raw = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ThemeError(f"The theme file {path} is not valid TOML ({exc}).") from None
    except OSError as exc:
        raise ThemeError(f"The theme file {path} cannot be read ({exc.strerror or exc}).") from None
    try:
        return ThemeFile.model_validate(raw).to_theme()
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err.get("loc", ())) or "the file"
        raise ThemeError(f"The theme file {path} is not valid: {where}: {err.get('msg')}.") from None


def _dir_themes(folder: Path | None) -> dict[str, Theme]:
    out: dict[str, Theme] = {}
    if folder is None or not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.toml")):
        theme = load_theme_file(path)
        out[theme.name] = theme
    return out


def load_themes(user_dir: Path | None = None, *, builtin_dir: Path | None = None) -> dict[str, Theme]:
    """grok-tui's themes (built-in, then user files, which may override by name). Raises ThemeError."""
    themes = _dir_themes(builtin_dir or builtin_theme_dir())
    try:
        themes.update(_dir_themes(user_dir if user_dir is not None else user_theme_dir()))
    except ThemeError as exc:
        names = sorted(set(themes) | set(BUILTIN_THEMES))
        raise ThemeError(f"{exc} Valid themes: {', '.join(names)}.") from None
    return themes


def available_themes(user_dir: Path | None = None) -> list[str]:
    """Every theme name `settings.theme` accepts: grok-tui's, the user's, and Textual's own."""
    ours = load_themes(user_dir)
    return sorted(ours) + sorted(n for n in BUILTIN_THEMES if n not in ours)


def resolve_theme(name: str, user_dir: Path | None = None) -> tuple[Theme, dict[str, Theme]]:
    """The theme called `name` and all of grok-tui's themes. Unknown name: ThemeError listing valid names."""
    ours = load_themes(user_dir)
    if name in ours:
        return ours[name], ours
    if name in BUILTIN_THEMES:
        return BUILTIN_THEMES[name], ours
    names = sorted(ours) + sorted(n for n in BUILTIN_THEMES if n not in ours)
    raise ThemeError(f"Unknown theme {name!r}. Valid themes: {', '.join(names)}.")


def load_theme(name: str, user_dir: Path | None = None) -> Theme:
    """The theme called `name` (grok-tui's, the user's or Textual's). Raises ThemeError listing valid names."""
    return resolve_theme(name, user_dir)[0]
