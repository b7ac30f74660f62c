"""The chat screen's compositor (ui/compositor.py) against Textual's own: for any changed
area, the lines it composes are the same, while it renders far fewer. This pins the one
private Textual method it overrides (`Compositor._get_renders`)."""

from __future__ import annotations

import functools

from textual._compositor import Compositor
from textual.geometry import Region
from textual.widget import Widget

from apphelpers import make_app, wait_for
from fake_openai import Reply
from tuichat.ui.compositor import CroppingCompositor
from tuichat.ui.widgets.transcript import Transcript

REPLY = "A reply with **bold**, a list:\n\n- one\n- two\n\n```python\nprint('日本語 😀')\n```\n\n" + "More words. " * 80


def composed(compositor: Compositor, crop: Region, *, textual: bool) -> list[list[tuple[int, str, list]]]:
    """The cells of `crop`, line by line, as (cut, text, styles), composed with this
    compositor's renders or with Textual's."""
    if textual:
        compositor._get_renders = functools.partial(Compositor._get_renders, compositor)  # type: ignore[method-assign]
    try:
        chops = compositor._render_chops(crop, lambda y: True)
    finally:
        compositor.__dict__.pop("_get_renders", None)
    x0, x1 = crop.column_span
    out = []
    for y in crop.line_range:
        line = []
        for cut, strip in sorted(chops[y].items()):
            if x0 <= cut < x1 and strip is not None:
                line.append((cut, strip.text, [seg.style for seg in strip]))
        out.append(line)
    return out


def rendered_lines(compositor: Compositor, crop: Region) -> dict[str, int]:
    counts: dict[str, int] = {}
    original = Widget.render_lines

    def spy(self, region):  # noqa: ANN001, ANN202
        counts[type(self).__name__] = counts.get(type(self).__name__, 0) + region.height
        return original(self, region)

    Widget.render_lines = spy  # type: ignore[method-assign]
    try:
        compositor._render_chops(crop, lambda y: True)
    finally:
        Widget.render_lines = original  # type: ignore[method-assign]
    return counts


async def test_composes_every_area_as_textual_does_rendering_only_what_shows(tmp_path, fake_server):
    fake_server.script(Reply.text(REPLY, chunk_size=7))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        screen.composer.text = "a question"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "More words." in screen.transcript.all_text() and not screen.generating)
        await pilot.pause()
        compositor = screen._compositor
        assert isinstance(compositor, CroppingCompositor)
        transcript = screen.query_one(Transcript).region
        areas = {
            "the transcript": transcript,
            "its last lines": Region(transcript.x, transcript.bottom - 3, transcript.width, 3),
            "the transcript and the composer": Region(transcript.x, transcript.y, transcript.width, 38),
            "a thread list corner": Region(0, 1, 20, 5),
            "the status and key bars": Region(0, 0, 120, 1),
            "the whole screen": Region(0, 0, 120, 40),
            "a column across everything": Region(30, 0, 6, 40),
        }
        for name, area in areas.items():
            assert composed(compositor, area, textual=False) == composed(compositor, area, textual=True), name
        # What it saves: for the transcript's last lines, nothing but the transcript is drawn.
        assert rendered_lines(compositor, areas["its last lines"]) == {"Transcript": 3}
