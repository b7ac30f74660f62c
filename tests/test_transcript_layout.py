"""The transcript's line index (pure, no Pilot), and the one private Textual API the
widget relies on, pinned."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import App, ComposeResult

from apphelpers import wait_for

from tuichat.ui.widgets.transcript import Transcript
from tuichat.ui.widgets.transcript.layout import LineIndex


@dataclass
class Box:
    height: int


def test_offsets_are_the_running_sum_of_heights():
    entries = [Box(3), Box(1), Box(4)]
    index = LineIndex()
    index.sync(entries)
    assert index.offsets == [0, 3, 4]
    assert index.total(entries) == 8
    assert [index.entry_at(line) for line in range(8)] == [0, 0, 0, 1, 2, 2, 2, 2]
    assert index.entry_at(-5) == 0


def test_only_entries_after_a_change_are_recomputed():
    entries = [Box(2), Box(2), Box(2), Box(2)]
    index = LineIndex()
    index.sync(entries)
    index.offsets[1] = 999  # were it recomputed, this would be repaired
    entries[2].height = 5
    index.invalidate(3)  # entry 2 grew: entry 3 moved
    index.sync(entries)
    assert index.offsets == [0, 999, 4, 9]
    index.invalidate(0)
    index.sync(entries)
    assert index.offsets == [0, 2, 4, 9] and index.total(entries) == 11


def test_entries_added_and_removed():
    entries = [Box(1)]
    index = LineIndex()
    index.sync(entries)
    entries += [Box(2), Box(3)]
    index.sync(entries)  # appended entries need no invalidation
    assert index.offsets == [0, 1, 3]
    del entries[1:]
    index.invalidate(1)
    index.sync(entries)
    assert index.offsets == [0] and index.total(entries) == 1
    index.clear()
    assert index.total([]) == 0 and index.offsets == []


class One(App[None]):
    def compose(self) -> ComposeResult:
        yield Transcript()


async def test_the_scrollbar_learns_the_virtual_size_without_a_layout_pass():
    # Transcript sets its virtual size with set_reactive + Widget._scroll_update (private),
    # so a streamed frame does not re-arrange the whole screen. This pins what that call
    # must still do in the Textual in use: size the scrollbar and keep the offset valid.
    app = One()
    async with app.run_test(size=(60, 12)) as pilot:
        transcript = app.query_one(Transcript)
        transcript.add_message("assistant", "\n\n".join(f"line {i}" for i in range(60)))
        await wait_for(pilot, lambda: transcript.virtual_size.height > 0)  # the next frame
        height = transcript.virtual_size.height
        assert height > transcript.size.height
        assert transcript.show_vertical_scrollbar
        assert transcript.vertical_scrollbar.window_virtual_size == height
        transcript.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        assert transcript.scroll_y == transcript.max_scroll_y > 0
        transcript.clear()
        await wait_for(pilot, lambda: transcript.virtual_size.height == 0 and transcript.scroll_y == 0)
