"""Settings: command-line flags > environment (GROK_TUI_*) > TOML config file > defaults."""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import platformdirs
from pydantic import Field, PrivateAttr, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

from .browser.endpoint import is_loopback_host
from .engine import Timings

APP_NAME = "grok-tui"
# Against grok.com (any page that is not on this machine) the pace cannot go below this.
GROK_MIN_PACE_S = 8.0
# Only regular files under this size are read as the config file.
MAX_CONFIG_BYTES = 1024 * 1024


class SettingsError(Exception):
    """Bad configuration; the message is one sentence for the user."""


def config_file() -> Path:
    env = os.environ.get("GROK_TUI_CONFIG_FILE")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def state_dir() -> Path:
    env = os.environ.get("GROK_TUI_STATE_DIR")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_state_dir(APP_NAME))


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


def read_config(path: Path) -> dict[str, Any]:
    """The config file's settings ({} when there is none). Raises SettingsError (one sentence)
    for anything else than a regular UTF-8 TOML file under 1 MB naming known settings."""
    try:
        st = os.stat(path)  # follows a link: a config kept in a dotfiles folder is fine
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise SettingsError(f"The config file {path} cannot be read ({exc.strerror or exc}).") from None
    if stat.S_ISDIR(st.st_mode):
        raise SettingsError(f"The config file {path} is a folder, not a file.")
    if not stat.S_ISREG(st.st_mode):
        raise SettingsError(f"The config file {path} is not a regular file (a pipe or a device?); only regular files are read.")
    too_big = SettingsError(
        f"The config file {path} is larger than {MAX_CONFIG_BYTES // 1024} KB; only config files under 1 MB are read."
    )
    if st.st_size > MAX_CONFIG_BYTES:
        raise too_big
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped since the stat above
                raise OSError(errno.EINVAL, "not a regular file")
            raw = os.read(fd, MAX_CONFIG_BYTES + 1)
        finally:
            os.close(fd)
    except OSError as exc:
        raise SettingsError(f"The config file {path} cannot be read ({exc.strerror or exc}).") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise too_big
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SettingsError(f"The config file {path} is not valid UTF-8 text (bad byte at offset {exc.start}).") from None
    import tomllib  # only when there is a config file (~2.3 ms of the start without one)

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"The config file {path} is not valid TOML ({exc}); fix or remove it.") from None
    except RecursionError:
        raise SettingsError(f"The config file {path} nests arrays or tables too deeply to be read.") from None
    known = list(Settings.model_fields)
    for key in data:
        if key not in Settings.model_fields:
            import difflib  # for this message only

            near = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f" (did you mean {near[0]}?)" if near else f"; known settings: {', '.join(known)}"
            raise SettingsError(f"The config file {path} has an unknown setting {key!r}{hint}.")
    return data


class _ConfigFileSource(PydanticBaseSettingsSource):
    """The TOML config file, read once through `read_config` (pydantic-settings' own TOML
    source would open a FIFO, read any size and crash on bad UTF-8 or deep nesting)."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self._data = read_config(config_file())

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


class Settings(BaseSettings):
    """grok-tui's settings. Each can be set in the config file, as GROK_TUI_<NAME>, or by a flag."""

    model_config = SettingsConfigDict(env_prefix="GROK_TUI_", extra="ignore", validate_default=True)

    cdp_host: str = "127.0.0.1"
    """Host of Chrome's DevTools port. Only loopback unless allow_remote_cdp is set."""
    cdp_port: int = Field(9222, ge=1, le=65535)
    """Chrome's --remote-debugging-port."""
    allow_remote_cdp: bool = False
    """Allow a non-loopback cdp_host or cdp_url (a DevTools endpoint is full control of that browser)."""
    cdp_url: str | None = None
    """Chrome's browser endpoint: ws://127.0.0.1:<port>/devtools/browser/<id> as is, or http://host:port (its /json/version). Wins over the others."""
    chrome_profile: str | None = None
    """A Chrome user-data folder: connect to the endpoint its DevToolsActivePort names (Chrome 144+, chrome://inspect toggle)."""
    tab: str = "grok.com/imagine"
    """Attach to the first page tab whose URL contains this text."""
    max_retries: int = Field(3, ge=1, le=50)
    """Retries allowed per session after moderations (1-50)."""
    video_goal: int = Field(1, ge=1, le=50)
    """Videos to generate per session (1-50)."""
    auto_retry: bool = True
    """Retry automatically when a video is moderated."""
    cooldown_s: float = Field(8.0, ge=0.05, le=600)
    """Seconds between clicks and from a moderation to its retry (at least 8 against grok.com)."""
    next_video_delay_s: float = Field(8.0, ge=0.05, le=600)
    """Seconds from a success to the next video's attempt (at least 8 against grok.com)."""
    session_timeout_s: float = Field(120.0, ge=1, le=3600)
    """End the session as cancelled when an attempt has no outcome for this long."""
    tab_wait_s: float = Field(30.0, ge=0, le=3600)
    """How long a session waits for a closed or disconnected tab to come back."""
    permission_wait_s: float = Field(30.0, ge=1, le=600)
    """How long connecting waits while Chrome asks you to allow remote debugging (then: one sentence, exit 3)."""
    batch_bell: bool = True
    """Ring the terminal bell when a batch finishes or stops (the UI)."""
    batch_notify: bool = True
    """Send one desktop notification (notify-send / osascript, where there is one) when a batch ends (the UI)."""
    theme: str = "grok-dark"
    """Theme name: a built-in one, or a TOML theme file's name in the themes folder."""
    export_dir: Path | None = None
    """Where exported logs go (default: the XDG data dir's exports folder)."""
    keymap: dict[str, str] = Field(default_factory=dict)
    """Key bindings to remap: binding id -> keys, e.g. {start = "f5"}."""
    selectors: dict[str, str | list[str]] = Field(default_factory=dict)
    """Page selectors to override when Grok changes its markup, e.g. {generate = ['button[aria-label="Make video"]']}."""
    download: bool = True
    """Save every finished video while the session runs (--no-download turns it off)."""
    downloads_dir: Path | None = None
    """Where videos are saved (default: the XDG download dir + /grok-tui); created with its parents."""
    download_name: str = "{date}_{post8}_{n:02d}_{video8}"
    """File name template of a saved video (fields: date, time, post8, post, media8, video8, video, n, attempt)."""
    allow_option_change: bool = False
    """Only warn (instead of stopping) when a later attempt's generation options differ from the first's."""

    @field_validator("download_name")
    @classmethod
    def _name_template(cls, v: str) -> str:
        from .downloads import check_template

        return check_template(v)

    @field_validator("selectors")
    @classmethod
    def _known_selectors(cls, v: dict) -> dict:
        from .browser.observer import DEFAULT_SELECTORS

        unknown = sorted(set(v) - set(DEFAULT_SELECTORS))
        if unknown:
            raise ValueError(f"unknown selector name(s) {', '.join(unknown)}; known: {', '.join(DEFAULT_SELECTORS)}")
        return v

    _pinned: frozenset[str] | None = PrivateAttr(default=None)

    @field_validator("cdp_port", "max_retries", "video_goal", mode="before")
    @classmethod
    def _strict_int(cls, v: Any) -> Any:
        # Counts are whole numbers: a bool (True is 1 to Python) or a float is refused, not coerced.
        if isinstance(v, (bool, float)):
            raise PydanticCustomError("int_type", "Input should be a valid integer")
        return v

    @field_validator("cooldown_s", "next_video_delay_s", "session_timeout_s", "tab_wait_s", "permission_wait_s", mode="before")
    @classmethod
    def _no_bool_number(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise PydanticCustomError("float_type", "Input should be a valid number")
        return v

    @field_validator("auto_retry", "allow_remote_cdp", mode="before")
    @classmethod
    def _strict_bool(cls, v: Any) -> Any:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            raise PydanticCustomError("bool_parsing", "Input should be a valid boolean")
        return v

    def pinned(self) -> frozenset[str]:
        """Settings given by a flag or the environment: they win over values stored per post."""
        return self._pinned if self._pinned is not None else frozenset(self.model_fields_set)

    @field_validator("tab")
    @classmethod
    def _tab_not_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("tab cannot be empty: it must name the Grok post tab (e.g. grok.com/imagine), or any tab would do")
        return v

    @field_validator("cdp_host")
    @classmethod
    def _host_not_empty(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("cdp_host cannot be empty")
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _ConfigFileSource(settings_cls))

    # ------------------------------------------------------------------

    def timings(self, page_url: str | None = None) -> Timings:
        """Engine timings; pages not on this machine (grok.com) get the 8 s floor."""
        cooldown, delay = self.cooldown_s, self.next_video_delay_s
        if page_url is not None and not is_local_url(page_url):
            cooldown, delay = max(cooldown, GROK_MIN_PACE_S), max(delay, GROK_MIN_PACE_S)
        return Timings(cooldown_s=cooldown, next_video_delay_s=delay, session_timeout_s=self.session_timeout_s)

    def endpoint_spec(self):
        """Where Chrome is, for the browser link: cdp_url, chrome_profile, cdp_host/cdp_port, or (none set) the usual places."""
        from .browser.endpoint import EndpointSpec

        return EndpointSpec(
            cdp_url=self.cdp_url or None,
            chrome_profile=self.chrome_profile or None,
            host=self.cdp_host,
            port=self.cdp_port,
            port_given=bool({"cdp_host", "cdp_port"} & self.model_fields_set),
            allow_remote=self.allow_remote_cdp,
        )

    def downloads_path(self) -> Path:
        from .downloads import default_downloads_dir

        return Path(self.downloads_dir).expanduser() if self.downloads_dir else default_downloads_dir()

    def check_host(self) -> None:
        if not self.allow_remote_cdp and not is_loopback_host(self.cdp_host):
            raise SettingsError(
                f"cdp_host {self.cdp_host!r} is not this machine; a DevTools port is full control of the "
                "browser, so pass --allow-remote-cdp if you really mean it."
            )


def is_local_url(url: str) -> bool:
    host = urlparse(url).hostname or ""
    return is_loopback_host(host)


_RANGE_MESSAGES = {
    "greater_than_equal": "at least {ge}",
    "less_than_equal": "at most {le}",
    "greater_than": "more than {gt}",
    "less_than": "less than {lt}",
}


def _field_range(name: str) -> str:
    field = Settings.model_fields.get(name)
    if field is None:
        return ""
    lo = hi = None
    for m in field.metadata:
        lo = getattr(m, "ge", lo) if getattr(m, "ge", None) is not None else lo
        hi = getattr(m, "le", hi) if getattr(m, "le", None) is not None else hi
    if lo is not None and hi is not None:
        return f" from {lo:g} to {hi:g}"
    return ""


FLAGS = {
    "video_goal": "--goal",
    "cooldown_s": "--cooldown",
    "next_video_delay_s": "--next-video-delay",
    "session_timeout_s": "--timeout",
    "tab_wait_s": "--tab-wait",
    "permission_wait_s": "--permission-wait",
    "auto_retry": "--no-auto-retry",
    "downloads_dir": "--downloads",
    "download": "--no-download",
}


def flag_of(name: str) -> str:
    return FLAGS.get(name, "--" + name.replace("_", "-"))


def describe_error(exc: ValidationError) -> str:
    """One sentence naming the first bad field and what it accepts."""
    err = exc.errors()[0]
    name = str(err["loc"][0]) if err.get("loc") else "a setting"
    value = err.get("input")
    env = f"GROK_TUI_{name.upper()}"
    kind = err.get("type", "")
    if kind in _RANGE_MESSAGES or kind in ("int_parsing", "float_parsing", "int_from_float", "int_type", "float_type"):
        want = {
            "int_parsing": "a whole number",
            "int_from_float": "a whole number",
            "int_type": "a whole number",
            "float_parsing": "a number",
            "float_type": "a number",
        }.get(kind, "a number")
        if Settings.model_fields.get(name) and Settings.model_fields[name].annotation is int:
            want = "a whole number"
        return f"{name} (flag {flag_of(name)}, env {env}) must be {want}{_field_range(name)}, not {value!r}."
    if kind == "bool_parsing":
        return f"{name} (env {env}) must be true or false, not {value!r}."
    msg = str(err.get("msg", "bad value")).removeprefix("Value error, ")
    return f"{name} (env {env}) is not valid: {msg} (got {value!r})."


def load_settings(**overrides: Any) -> Settings:
    """Build settings with `overrides` (command-line flags, None = not given) on top. Raises SettingsError."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        settings = Settings(**given)
    except ValidationError as exc:
        raise SettingsError(describe_error(exc)) from None
    except SourceError as exc:  # an environment value pydantic-settings could not parse (JSON)
        raise SettingsError(_describe_source_error(exc)) from None
    env = {k.lower() for k in os.environ}
    from_env = {name for name in Settings.model_fields if f"grok_tui_{name}" in env}
    settings._pinned = frozenset(given) | frozenset(from_env)
    settings.check_host()
    return settings


def _describe_source_error(exc: Exception) -> str:
    m = re.search(r'field "(\w+)"', str(exc))
    name = m.group(1) if m else None
    if name is None:
        return f"A GROK_TUI_ environment variable could not be read ({str(exc)[:120]})."
    example = {"keymap": '{"start": "f5"}', "selectors": '{"generate": "button.make"}'}.get(name, "a JSON value")
    return f"GROK_TUI_{name.upper()} is not valid JSON; give an object such as {example}."
