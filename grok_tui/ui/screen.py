"""The main screen, whose repaints draw only the widgets that changed and what lies under them.

Textual's compositor repaints a frame's changes inside the smallest rectangle around all of
them: a changed header line and a log that scrolled make that rectangle the whole screen, and
every widget in it is drawn again (the attempts table, the prompt, the footer, each label: ~22
widgets, ~6 ms a frame on the project's machine while a session runs). What reaches the
terminal is only the changed spans, so a widget that overlaps none of them adds nothing to the
frame: here such widgets are left out. Full repaints (a resize, a layout pass, a theme) are
Textual's own.
"""

from __future__ import annotations

from typing import Any, Iterable

from textual._compositor import Compositor
from textual.geometry import Region
from textual.screen import Screen


class ChangedOnlyCompositor(Compositor):
    """A Compositor whose partial updates draw only the widgets that overlap a changed region."""

    _changed: tuple[Region, ...] = ()

    def render_partial_update(self) -> Any:
        self._changed = tuple(self._dirty_regions)
        try:
            return super().render_partial_update()
        finally:
            self._changed = ()

    def _get_renders(self, crop: Region | None = None) -> Iterable[tuple[Region, Region, list]]:
        changed = self._changed
        if crop is None or not changed:
            yield from super()._get_renders(crop)
            return
        overlaps, intersection = Region.overlaps, Region.intersection
        widgets = []
        for widget, (region, clip) in self.visible_widgets.items():
            shown = intersection(region, clip)  # clip is the container's clipping rectangle, not the widget's
            if overlaps(crop, shown) and any(overlaps(r, shown) for r in changed):
                widgets.append((widget, region, clip))
        for widget, region, clip in widgets:  # as Compositor._get_renders, over fewer widgets
            if clip.contains_region(region):
                yield region, clip, widget.render_lines(Region(0, 0, region.width, region.height))
            else:
                x, y, width, height = region.intersection(clip)
                if width and height:
                    yield region, clip, widget.render_lines(Region(x - region.x, y - region.y, width, height))


class MainScreen(Screen):
    """The app's default screen, with a ChangedOnlyCompositor."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._compositor = ChangedOnlyCompositor()
