"""Line API widgets for the main screen that draw a line once and repaint only what changed.

LineTable (the attempts table) instead of a DataTable: a DataTable renders every visible cell
again (through Rich's console, ~0.1 ms a cell) whenever any cell changes, which cost a quarter of
a core at the simulated site's progress rate. Here each row is drawn once into a Strip and kept;
a changed cell redraws its row and repaints that one line; the other lines come from the cache.
The look follows DataTable's (header, zebra stripes, a row cursor on the newest attempt).

LineBar instead of a ProgressBar: one widget instead of three (bar, percentage, and the
reactive messages between them) and no once-a-second ETA timer; it looks the same.
"""

from __future__ import annotations

from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.reactive import Reactive
from textual.scroll_view import ScrollView
from textual.renderables.bar import Bar
from textual.strip import Strip
from textual.widget import Widget

PAD = 1  # blank cells either side of each column, as DataTable's cell_padding


class StyleMemo:
    """Component styles and the widget's own style, looked up once per style change (each lookup walks the DOM)."""

    STYLE_NAMES: tuple[str, ...] = ()
    _memo: dict[str, Any] | None = None

    def notify_style_update(self) -> None:
        super().notify_style_update()  # type: ignore[misc]
        self._memo = None

    def styles_memo(self) -> dict[str, Any]:
        widget: Any = self
        theme = widget.app.theme
        memo = self._memo
        if memo is None or memo["@theme"] != theme:
            memo = {"@theme": theme, "": widget.rich_style}
            memo.update((n, widget.get_component_rich_style(n)) for n in self.STYLE_NAMES)
            self._memo = memo
        return memo


class SteadyScroll:
    """For a scrolling widget whose own size is set by CSS (the log, the attempts table).

    Textual lays out the whole screen again whenever a widget's virtual (scrollable) size
    changes, i.e. for every line a log gains: a reflow and a repaint of everything in the
    changed area. Here a taller or wider content only moves the scrollbars and repaints the
    widget; the layout pass happens only when a scrollbar has to appear or go away.
    """

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    def watch_virtual_size(self, size: Size) -> None:
        widget: Any = self
        width, height = widget.container_size
        if not (width and height):
            return  # not laid out yet: the first layout sets everything
        want_v = size.height > height - (widget.scrollbar_size_horizontal if widget.show_horizontal_scrollbar else 0)
        want_h = size.width > width - (widget.scrollbar_size_vertical if widget.show_vertical_scrollbar else 0)
        if (want_v != widget.show_vertical_scrollbar and widget.styles.overflow_y == "auto") or (
            want_h != widget.show_horizontal_scrollbar and widget.styles.overflow_x == "auto"
        ):
            widget.refresh(layout=True)
            return
        if widget.show_vertical_scrollbar:
            widget.vertical_scrollbar.window_virtual_size = size.height
        if widget.show_horizontal_scrollbar:
            widget.horizontal_scrollbar.window_virtual_size = size.width
        widget.scroll_y = widget.validate_scroll_y(widget.scroll_y)
        widget.scroll_x = widget.validate_scroll_x(widget.scroll_x)

    def follow_end(self) -> None:
        """Scroll to the last line in this repaint; after the next layout when that adds the scrollbar."""
        widget: Any = self
        immediate = widget.show_vertical_scrollbar or widget.max_scroll_y <= 0
        widget.scroll_end(animate=False, immediate=immediate, x_axis=False)


def as_text(value: Any) -> Text:
    return value if isinstance(value, Text) else Text(str(value))


class LineTable(StyleMemo, SteadyScroll, ScrollView, can_focus=True):
    """A table of short, single-line cells; the header stays on top while the rows scroll."""

    COLUMNS: tuple[str, ...] = ()
    STYLE_NAMES = ("linetable--header", "linetable--even-row", "linetable--cursor")
    MAX_ROWS = 250  # beyond it the oldest TRIM rows go (an even number: the zebra stays as drawn)
    TRIM = 50

    COMPONENT_CLASSES = {"linetable--header", "linetable--even-row", "linetable--cursor"}

    DEFAULT_CSS = """
    LineTable {
        background: $surface;
        color: $foreground;
        &:focus {
            background-tint: $foreground 5%;
            & > .linetable--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .linetable--header {
                background-tint: $foreground 5%;
            }
        }
        &:dark > .linetable--even-row {
            background: $surface-darken-1 40%;
        }
        & > .linetable--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .linetable--even-row {
            background: $surface-lighten-1 50%;
        }
        & > .linetable--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "cursor_to(0)", "First", show=False),
        Binding("end", "cursor_to(-1)", "Last", show=False),
    ]

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._keys: list[str] = []  # row keys, in order
        self._index: dict[str, int] = {}
        self._data: dict[str, list[Text]] = {}
        self._widths = [len(c) for c in self.COLUMNS]
        self._drawn: dict[str, tuple[Strip, Style]] = {}  # rows drawn at the current widths and styles
        self._header: tuple[Strip, Style] | None = None
        self._styles_key: Any = None
        self._styles: dict[str, Style] = {}
        self.cursor_row = -1

    # ------------------------------------------------------------ the DataTable-like surface

    @property
    def row_count(self) -> int:
        return len(self._keys)

    @property
    def rows(self) -> dict[str, list[Text]]:
        return self._data

    def get_row_at(self, index: int) -> list[Text]:
        return list(self._data[self._keys[index]])

    def add_row(self, *cells: Any, key: str) -> None:
        row = [as_text(c) for c in cells]
        self._index[key] = len(self._keys)
        self._keys.append(key)
        self._data[key] = row
        self._fit(row)
        if len(self._keys) > self.MAX_ROWS:
            self._trim(self.TRIM)
        self._resize()

    def _trim(self, n: int) -> None:
        """The oldest `n` rows go (a long session's table stays the same size in memory)."""
        gone, self._keys = self._keys[:n], self._keys[n:]
        for key in gone:
            self._data.pop(key, None)
            self._drawn.pop(key, None)
        self._index = {k: i for i, k in enumerate(self._keys)}
        self.cursor_row = max(-1, self.cursor_row - n)
        self.rows_dropped(gone)
        self.scroll_to(y=max(0, int(self.scroll_offset.y) - n), animate=False, immediate=True)
        self.refresh()

    def rows_dropped(self, keys: list[str]) -> None:
        """Called with the keys of rows that went (the oldest, past MAX_ROWS)."""

    def update_row(self, key: str, cells: list[Any]) -> None:
        """Set a row's cells; only a row that changed is drawn again, and only its line repainted."""
        row = [as_text(c) for c in cells]
        if row == self._data.get(key):
            return
        self._data[key] = row
        self._drawn.pop(key, None)
        if not self._fit(row):
            self._repaint_row(self._index[key])

    def clear(self) -> None:
        self._keys.clear()
        self._index.clear()
        self._data.clear()
        self._drawn.clear()
        self._widths = [len(c) for c in self.COLUMNS]
        self._header = None
        self.cursor_row = -1
        self._resize()
        self.refresh()

    def move_cursor(self, row: int) -> None:
        if not self._keys:
            return
        row = max(0, min(row, len(self._keys) - 1))
        old, self.cursor_row = self.cursor_row, row
        if old != row:
            for i in (old, row):
                if 0 <= i < len(self._keys):
                    self._drawn.pop(self._keys[i], None)
                    self._repaint_row(i)
        top = int(self.scroll_offset.y)
        visible = max(1, self.scrollable_content_region.height - 1)
        if row < top:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= top + visible:
            self.scroll_to(y=row - visible + 1, animate=False, immediate=True)

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(self.cursor_row + delta)

    def action_page(self, delta: int) -> None:
        self.move_cursor(self.cursor_row + delta * max(1, self.scrollable_content_region.height - 1))

    def action_cursor_to(self, row: int) -> None:
        self.move_cursor(row if row >= 0 else len(self._keys) - 1)

    # ------------------------------------------------------------ drawing

    def _fit(self, row: list[Text]) -> bool:
        """Widen the columns for `row`; True when a column grew (then every line is drawn again)."""
        grew = False
        for i, cell in enumerate(row[: len(self._widths)]):
            if cell.cell_len > self._widths[i]:
                self._widths[i] = cell.cell_len
                grew = True
        if grew:
            self._drawn.clear()
            self._header = None
            self._resize()
            self.refresh()
        return grew

    def _resize(self) -> None:
        size = Size(sum(w + 2 * PAD for w in self._widths), len(self._keys) + 1)
        if self.virtual_size != size:
            self.virtual_size = size  # a layout pass: only when a row is added or a column grows

    def _repaint_row(self, index: int) -> None:
        y = index - int(self.scroll_offset.y) + 1
        if 1 <= y < self.scrollable_content_region.height:
            self.refresh(Region(0, y, self.scrollable_content_region.width, 1))

    def _check_styles(self) -> None:
        memo = self.styles_memo()
        if memo is not self._styles_key:  # the styles changed (theme, focus): every row is drawn again
            self._styles_key = memo
            base = memo[""]
            self._styles = {"": base, "linetable--cursor": memo["linetable--cursor"]}
            for n in ("linetable--header", "linetable--even-row"):
                self._styles[n] = base + memo[n]
            self._drawn.clear()
            self._header = None

    def _draw(self, cells: list[Text], style: Style, over: Style | None = None) -> tuple[Strip, Style]:
        """A row's line: `style` under the cells' own styles, `over` (the cursor) above them."""
        line = Text(no_wrap=True, end="")
        for width, cell in zip(self._widths, cells):
            line.append(" " * PAD)
            line.append_text(cell)
            line.append(" " * (width - cell.cell_len + PAD))
        segments = Segment.apply_style(line.render(self.app.console), style, over)
        return Strip(list(segments), line.cell_len), (style + over) if over else style

    def _row_strip(self, index: int) -> tuple[Strip, Style]:
        key = self._keys[index]
        drawn = self._drawn.get(key)
        if drawn is None:
            style = self._styles["linetable--even-row"] if index % 2 == 0 else self._styles[""]
            over = self._styles["linetable--cursor"] if index == self.cursor_row else None
            drawn = self._drawn[key] = self._draw(self._data[key], style, over)
        return drawn

    def render_lines(self, crop: Region) -> list[Strip]:
        self._check_styles()
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self._styles[""]
        if y == 0:
            if self._header is None:
                self._header = self._draw([Text(c) for c in self.COLUMNS], self._styles["linetable--header"])
            strip, style = self._header
        else:
            index = int(self.scroll_offset.y) + y - 1
            if index >= len(self._keys):
                return Strip.blank(width, base)
            strip, style = self._row_strip(index)
        x = int(self.scroll_offset.x)
        return strip.crop_extend(x, x + width, style)  # the row's background runs to the right edge


class LineBar(StyleMemo, Widget):
    """A one-line progress bar with its percentage at the right (as ProgressBar with show_eta=False)."""

    COMPONENT_CLASSES = {"linebar--bar", "linebar--complete"}
    STYLE_NAMES = ("linebar--bar", "linebar--complete")

    DEFAULT_CSS = """
    LineBar {
        width: 1fr;
        height: 1;
        & > .linebar--bar {
            color: $primary;
            background: $surface;
        }
        & > .linebar--complete {
            color: $success;
            background: $surface;
        }
    }
    """

    PERCENT_WIDTH = 5

    def __init__(self, total: float = 100, *, show_percentage: bool = True, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.total = total
        self.progress = 0.0
        self.show_percentage = show_percentage
        self._drawn: tuple[Any, Any, Strip] | None = None

    @property
    def percentage(self) -> float:
        return max(0.0, min(1.0, self.progress / self.total)) if self.total else 0.0

    def update(self, *, total: float | None = None, progress: float | None = None) -> None:
        """Repaint only when what is drawn changes (a half cell of the bar, or the percentage)."""
        before = self._key()
        if total is not None:
            self.total = total
        if progress is not None:
            self.progress = progress
        if self._key() != before:
            self.refresh()

    def _key(self) -> tuple[int, int, int]:
        width = max(0, self.size.width - (self.PERCENT_WIDTH if self.show_percentage else 0))
        p = self.percentage
        return width, int(p * width * 2), round(p * 100)

    def render_line(self, y: int) -> Strip:
        memo = self.styles_memo()
        key = self._key()
        if self._drawn is not None and self._drawn[0] == key and self._drawn[1] is memo:
            return self._drawn[2]
        base = memo[""]
        (width, halves, percent) = key
        style = memo["linebar--complete" if width and halves >= 2 * width else "linebar--bar"]
        segments = bar_segments(width, halves, Style.from_color(style.color), Style.from_color(style.bgcolor))
        if self.show_percentage:
            segments.append(Segment(f"{percent}%".rjust(self.PERCENT_WIDTH)))
        strip = Strip(Segment.apply_style(segments, base), None).adjust_cell_length(self.size.width, base)
        self._drawn = (key, memo, strip)
        return strip


def bar_segments(width: int, halves: int, high: Style, back: Style) -> list[Segment]:
    """Textual's progress bar line (renderables.bar.Bar from 0), without a console render: `halves` half cells lit."""
    if width <= 0:
        return []
    if halves <= 0:
        return [Segment(Bar.BAR * width, back)]
    full, half = divmod(min(halves, 2 * width), 2)
    segments = [Segment(Bar.BAR * full + (Bar.HALF_BAR_RIGHT if half else ""), high)]
    rest = width - full - half
    if rest > 0:
        segments.append(Segment(("" if half else Bar.HALF_BAR_LEFT) + Bar.BAR * (rest - (0 if half else 1)), back))
    return segments
