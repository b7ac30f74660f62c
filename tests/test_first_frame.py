"""The first frame is the final one: what the first screen shows is drawn the first time
each part of it is drawn, not a frame later (bench/startup.py counts later changes)."""

from __future__ import annotations

from apphelpers import make_app
from tuichat.ui.screens.chat import ChatScreen
from tuichat.ui.widgets.key_bar import KeyBar
from tuichat.ui.widgets.transcript import Transcript


async def test_the_first_frame_has_the_greeting_the_keys_and_the_focus(tmp_path, monkeypatch):
    first: dict[str, object] = {}
    render_lines, render = Transcript.render_lines, KeyBar.render

    def transcript_lines(self, crop):  # noqa: ANN001, ANN202
        lines = render_lines(self, crop)
        first.setdefault("transcript", "\n".join(strip.text for strip in lines))
        first.setdefault("focused", self.screen.focused)
        return lines

    def keys(self):  # noqa: ANN202
        text = render(self)
        first.setdefault("keys", text.plain)
        return text

    monkeypatch.setattr(Transcript, "render_lines", transcript_lines)
    monkeypatch.setattr(KeyBar, "render", keys)
    app = make_app(tmp_path, "http://127.0.0.1:9/v1")
    async with app.run_test(size=(120, 40)):
        screen = app.screen
        assert isinstance(screen, ChatScreen) and app.screen_stack == [screen]  # no empty screen under it
        assert "New thread with default" in str(first["transcript"])
        assert "⏎ Send" in str(first["keys"]) and "^p palette" in str(first["keys"])
        assert first["focused"] is screen.composer
