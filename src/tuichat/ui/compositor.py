"""A compositor that draws only what changed, for the chat screen.

Textual's compositor, on a partial update, asks every widget whose *clip* (its
container's area) touches the changed area to render its *whole* region: while a reply
streams into the transcript, the screen, the two containers, the thread panel, the
composer and the key bar all render every line of themselves on every frame, only for
the compositor to keep the transcript's lines (each cell shows the front-most widget's
strip). That was four fifths of the lines a streaming frame rendered. Here each widget is
asked only for its lines within the changed area's lines (the path Textual takes for a
widget its container scrolls partly out of view), and not at all when a widget in front
of it already covers its part of the changed area.

`_get_renders` is private to Textual: tests/test_compositor.py pins what it must yield, so
a Textual upgrade that changes it fails there, not on screen.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual._compositor import Compositor
from textual.geometry import Region
from textual.strip import Strip


class CroppingCompositor(Compositor):
    def _get_renders(self, crop: Region | None = None) -> Iterable[tuple[Region, Region, list[Strip]]]:
        if not crop:
            yield from super()._get_renders(crop)
            return
        overlaps = crop.overlaps
        intersection = Region.intersection
        # Whole lines of the changed area: a widget is asked for those of its lines, at its
        # full width (render_lines of a column range is not something Textual asks for).
        band = Region(0, crop.y, max(self.size.width, crop.right), crop.height)
        drawn: list[Region] = []  # what the widgets in front already cover
        for widget, (region, clip) in list(self.visible_widgets.items()):  # front to back
            if not overlaps(clip):
                continue
            clip = intersection(clip, band)
            area = intersection(region, clip)
            if not area:
                continue
            if any(front.contains_region(intersection(area, crop)) for front in drawn):
                continue  # nothing of it would show: each cell keeps the front-most strip
            drawn.append(area)
            x, y, width, height = area
            yield region, clip, widget.render_lines(Region(x - region.x, y - region.y, width, height))
