"""The Transcript widget: one line-API view of a thread, streamed replies included."""

from __future__ import annotations

import asyncio

from rich.cells import cell_len
from rich.console import Console
from rich.markdown import Markdown
from textual import events
from textual.app import App, ComposeResult

from tuichat.ui.widgets.transcript import LENGTH, Transcript, markdown

SIZE = (80, 24)


class TranscriptApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Transcript()


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    """Let a frame or two pass (a flush is at most 1/30 s away), then wait for idle."""
    await pilot.pause(0.08)
    await pilot.pause()


def lines_of(view: Transcript) -> list[str]:
    return view.visible_text().splitlines()


async def test_streamed_text_is_visible_before_end_reply() -> None:
    app = TranscriptApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(Transcript)
        view.begin_reply("llama3")
        await settle(pilot)
        text = view.visible_text()
        assert "Assistant · llama3" in text
        assert "…" in text  # waiting indicator before the first token
        view.append_reply("Hello wor")
        await settle(pilot)
        text = view.visible_text()
        assert "Hello wor" in text
        assert "…" not in text
        view.append_reply("ld, and more")
        await settle(pilot)
        assert "Hello world, and more" in view.visible_text()
        assert view.reply_text == "Hello world, and more"


async def test_end_reply_draws_the_tail_at_once() -> None:
    app = TranscriptApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(Transcript)
        view.begin_reply()
        await settle(pilot)
        view.append_reply("first block\n\nlast words")
        view.end_reply()
        # No frame has passed: end_reply itself rendered what was pending.
        assert "last words" in view.visible_text()


async def test_finished_blocks_are_rendered_once_and_frames_render_only_the_tail() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.query_one(Transcript)
        renders: list[str] = []
        render = view._render_markdown

        def spy(text: str, width: int):  # type: ignore[no-untyped-def]
            renders.append(text)
            return render(text, width)

        view._render_markdown = spy  # type: ignore[method-assign]
        flushes = 0
        flush = view._flush

        def counting_flush() -> None:
            nonlocal flushes
            flushes += 1
            flush()

        view._flush = counting_flush  # type: ignore[method-assign]

        blocks = [f"Block number {i} says **hello** to `{i}`." for i in range(200)]
        reply = "\n\n".join(blocks)
        view.begin_reply()
        for start in range(0, len(reply), 23):
            view.append_reply(reply[start : start + 23])
            await asyncio.sleep(0.002)
        view.end_reply()
        await settle(pilot)

        assert flushes >= 10, "frames must have happened while streaming"
        for block in blocks:
            # Rendered once in its final form: as the tail, alone, or with the other
            # blocks that finished in the same frame; never again afterwards.
            assert sum(text.split("\n\n").count(block) for text in renders) == 1, block
        # Each frame renders only what is new: the blocks that finished since the last
        # frame and the tail, never the finished part of the reply again.
        rendered = sum(len(text) for text in renders)
        assert rendered < 2 * len(reply)
        tails = [text for text in renders if "\n\n" not in text]
        assert len(tails) >= 10
        assert all(text.count("Block number") <= 1 for text in tails)
        shown = view.all_text()
        positions = [shown.index(f"Block number {i} says hello to {i}.") for i in range(200)]
        assert positions == sorted(positions)


async def test_markup_and_escape_sequences_in_model_text_are_shown_literally() -> None:
    app = TranscriptApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(Transcript)
        view.add_message("user", "user says [bold red]x[/] and \x1b[31mred")
        view.begin_reply("[bold]model[/]")
        view.append_reply("reply says [bold red]y[/] and \x1b[2J\x1b[31mred")
        view.end_reply()
        await settle(pilot)
        text = view.visible_text()
        assert "user says [bold red]x[/] and ␛[31mred" in text
        assert "reply says [bold red]y[/] and ␛[2J␛[31mred" in text
        assert "Assistant · [bold]model[/]" in text
        for y in range(view.scrollable_content_region.height):
            for segment in view.render_line(y):
                assert "\x1b" not in segment.text
                if "[bold red]" in segment.text:
                    style = segment.style
                    assert style is not None
                    assert not style.bold
                    assert style.color is None or style.color.name != "red"


async def test_links_show_their_address() -> None:
    app = TranscriptApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(Transcript)
        view.add_message("assistant", "See [the docs](https://evil.example/x).")
        await settle(pilot)
        assert "https://evil.example/x" in view.visible_text()
        for y in range(view.scrollable_content_region.height):
            for segment in view.render_line(y):
                assert segment.style is None or not segment.style.link


async def test_code_fence_streamed_in_pieces() -> None:
    app = TranscriptApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(Transcript)
        source = "Code:\n\n```python\ndef answer():\n\n    return 42\n```\n\nAfter the code."
        view.begin_reply()
        cut = source.index("```\n\nAfter")
        for i in range(0, cut, 3):
            view.append_reply(source[i : min(i + 3, cut)])
            await asyncio.sleep(0)
        await settle(pilot)
        # The fence is still open, and its content is already on screen as code.
        text = view.visible_text()
        assert "def answer():" in text
        assert "return 42" in text
        assert "```" not in text
        view.append_reply(source[cut:])
        view.end_reply()
        await settle(pilot)
        lines = lines_of(view)
        assert "```" not in "\n".join(lines)
        code = next(i for i, line in enumerate(lines) if "def answer():" in line)
        after = next(i for i, line in enumerate(lines) if "After the code." in line)
        assert code < after
        assert any("return 42" in line for line in lines[code:after])
        # Highlighted as code: the code block has its own background.
        strip = view.render_line(code)
        assert any(s.style and s.style.bgcolor for s in strip if "def" in s.text)


async def test_japanese_and_emoji_take_two_cells_each() -> None:
    app = TranscriptApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(Transcript)
        view.add_message("user", "こんにちは世界🎌")
        long = "日本語の文章です。" * 12  # 108 characters, 216 cells: must wrap
        view.add_message("assistant", long)
        await settle(pilot)
        width = view.scrollable_content_region.width
        height = view.scrollable_content_region.height
        strips = [view.render_line(y) for y in range(height)]
        assert all(strip.cell_length == width for strip in strips)
        line = next(strip.text.rstrip() for strip in strips if "こんにちは" in strip.text)
        assert line == "▌ こんにちは世界🎌"
        assert cell_len(line) == 2 + 7 * 2 + 2
        wrapped = [
            s.text.rstrip() for s in strips if "日本語" in s.text or "です。" in s.text
        ]
        assert len(wrapped) >= 3
        assert all(cell_len(text) <= width for text in wrapped)
        assert "".join(wrapped) == long


async def test_follow_mode() -> None:
    app = TranscriptApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(Transcript)
        view.focus()
        view.add_message("user", "\n".join(f"line {i}" for i in range(60)))
        await settle(pilot)
        assert view.scroll_y == view.max_scroll_y > 0  # at the bottom
        view.begin_reply()
        view.append_reply("streamed at the bottom")
        await settle(pilot)
        assert view.scroll_y == view.max_scroll_y
        assert "streamed at the bottom" in view.visible_text()

        await pilot.press("home")
        await settle(pilot)
        assert view.scroll_y == 0
        for i in range(30):
            view.append_reply(f"\n\nmore text {i}")
        await settle(pilot)
        assert view.scroll_y == 0  # scrolled up: stays put
        assert "line 0" in view.visible_text()
        assert "more text 29" not in view.visible_text()

        await pilot.press("end")
        await settle(pilot)
        view.append_reply("\n\nthe newest words")
        await settle(pilot)
        assert view.scroll_y == view.max_scroll_y  # back at the bottom: follows again
        assert "the newest words" in view.visible_text()
        view.end_reply()


async def test_keys_and_mouse_wheel_scroll() -> None:
    app = TranscriptApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(Transcript)
        view.focus()
        view.add_message("assistant", "\n\n".join(f"paragraph {i}" for i in range(80)))
        await settle(pilot)
        bottom = view.scroll_y
        await pilot.press("up")
        await settle(pilot)
        assert view.scroll_y == bottom - 1
        await pilot.press("pageup")
        await pilot.wait_for_scheduled_animations()
        await settle(pilot)
        assert view.scroll_y < bottom - 10
        await pilot.press("home")
        await pilot.wait_for_scheduled_animations()
        await settle(pilot)
        assert view.scroll_y == 0
        view.post_message(events.MouseScrollDown(view, 5, 5, 0, 1, 0, False, False, False))
        await settle(pilot)
        assert view.scroll_y > 0


async def test_clear() -> None:
    app = TranscriptApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(Transcript)
        view.add_message("user", "question")
        view.begin_reply()
        view.append_reply("answer")
        await settle(pilot)
        assert "answer" in view.visible_text()
        view.clear()
        await settle(pilot)
        assert view.visible_text() == ""
        assert view.virtual_size.height == 0
        assert view.reply_text == ""
        view.append_reply("late token")  # from a cancelled request: must not show up
        view.add_message("user", "fresh start")
        await settle(pilot)
        assert view.visible_text().splitlines() == ["▌ You", "▌ fresh start"]


async def test_status_lines() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(80, 40)) as pilot:
        view = app.query_one(Transcript)
        statuses = [("done", None), ("stopped", None), ("error", "HTTP 500"), (LENGTH, None)]
        for status, note in statuses:
            view.begin_reply("m")
            view.append_reply(f"partial {status}")
            view.end_reply(status, note)
        view.add_message("assistant", "stored", status="stopped")
        view.add_message("assistant", "", status="error", note="connection refused")
        await settle(pilot)
        lines = lines_of(view)

        def after(text: str) -> str:
            return lines[next(i for i, line in enumerate(lines) if text in line) + 1]

        assert after("partial stopped") == "⏹ stopped"
        assert after("partial error") == "⚠ error: HTTP 500"
        assert after(f"partial {LENGTH}") == "✂ cut off: the model hit its token limit"
        assert after("stored") == "⏹ stopped"
        assert "⚠ error: connection refused" in lines
        assert after("partial done") == ""  # "done" adds no status line
        assert sum(line.startswith("⏹") for line in lines) == 2


async def test_reasoning_is_shown_apart_above_the_answer() -> None:
    app = TranscriptApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(Transcript)
        view.begin_reply("m")
        view.append_reasoning("Let me think")
        await settle(pilot)
        assert "Thinking" in view.visible_text()
        assert "…" not in view.visible_text()  # reasoning ends the waiting indicator
        view.append_reasoning(" about it.")
        view.append_reply("The answer.")
        view.end_reply()
        await settle(pilot)
        lines = lines_of(view)
        thinking = lines.index("Thinking")
        thought = lines.index("┊ Let me think about it.")
        answer = lines.index("The answer.")
        assert thinking < thought < answer
        assert view.reply_text == "The answer."
        strip = view.render_line(thought)
        assert all(s.style.italic for s in strip if "think" in s.text)


async def test_user_and_assistant_messages_look_different() -> None:
    app = TranscriptApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(Transcript)
        view.add_message("user", "**not bold** # not a heading")
        view.add_message("assistant", "**bold**", model="qwen")
        view.add_notice("Persona greeting")
        await settle(pilot)
        lines = lines_of(view)
        assert lines[:2] == ["▌ You", "▌ **not bold** # not a heading"]  # plain text
        assert lines[3] == "Assistant · qwen"
        assert lines[4] == "bold"  # Markdown
        assert "│ Persona greeting" in lines
        you = next(s for s in view.render_line(0) if "You" in s.text).style
        assistant = next(s for s in view.render_line(3) if "Assistant" in s.text).style
        assert you and assistant and you.color != assistant.color


async def test_resize_re_renders_for_the_new_width() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.query_one(Transcript)
        words = " ".join(f"word{i}" for i in range(60))
        view.add_message("assistant", words)
        view.begin_reply()
        view.append_reply(words.upper())
        await settle(pilot)
        wide = len(view.all_text().splitlines())
        await pilot.resize_terminal(50, 30)
        await settle(pilot)
        width = view.scrollable_content_region.width
        text = view.all_text()
        assert len(text.splitlines()) > wide
        assert all(cell_len(line) <= width for line in text.splitlines())
        assert "word59" in text and "WORD59" in text
        view.append_reply(" TAIL")  # streaming goes on at the new width
        await settle(pilot)
        assert "WORD59 TAIL" in view.visible_text()
        view.end_reply()


async def test_long_thread_renders_only_what_is_near_the_view() -> None:
    app = TranscriptApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(Transcript)
        for i in range(2000):
            view.add_message("user" if i % 2 == 0 else "assistant", f"message number {i}")
        await settle(pilot)
        rendered = sum(1 for entry in view._entries if entry.width)
        assert rendered < 50
        assert "message number 1999" in view.visible_text()
        view.focus()
        await pilot.press("home")
        await pilot.wait_for_scheduled_animations()
        await settle(pilot)
        assert "message number 0" in view.visible_text()


def test_shared_parser_renders_like_rich_markdown() -> None:
    text = (
        "# Title\n\nSome *em* and **strong** and ~~gone~~ and `code`.\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nx = 1\n```\n\n"
        "- [link](http://x.example)\n> quote"
    )
    console = Console(width=60, color_system="truecolor", record=True)
    ours = console.render_lines(markdown(text, "monokai"), console.options)
    rich = console.render_lines(
        Markdown(text, code_theme="monokai", hyperlinks=False), console.options
    )
    assert ours == rich


async def test_append_reply_only_buffers_and_frames_coalesce() -> None:
    app = TranscriptApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(Transcript)
        view.begin_reply()
        await settle(pilot)
        renders: list[str] = []
        render = view._render_markdown

        def spy(text: str, width: int):  # type: ignore[no-untyped-def]
            renders.append(text)
            return render(text, width)

        view._render_markdown = spy  # type: ignore[method-assign]
        for i in range(500):
            view.append_reply(f"t{i} ")
        assert renders == []  # appending renders nothing by itself
        await settle(pilot)
        assert 1 <= len(renders) <= 3  # 500 tokens, one (or a couple of) frames
        assert "t499" in view.visible_text()


async def test_focus_does_not_re_render_but_a_theme_change_does() -> None:
    app = TranscriptApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(Transcript)
        view.add_message("user", "hello")
        view.add_message("assistant", "*hi*", model="m")
        await settle(pilot)
        renders: list[str] = []
        render = view._render_markdown

        def spy(text: str, width: int):  # type: ignore[no-untyped-def]
            renders.append(text)
            return render(text, width)

        view._render_markdown = spy  # type: ignore[method-assign]
        before = next(s for s in view.render_line(0) if "You" in s.text).style
        view.focus()
        await settle(pilot)
        view.blur()
        await settle(pilot)
        assert renders == []  # cached strips survive focus changes
        app.theme = "gruvbox" if app.theme != "gruvbox" else "nord"
        await settle(pilot)
        after = next(s for s in view.render_line(0) if "You" in s.text).style
        assert before and after and before.color != after.color  # recoloured for the theme
        assert "hi" in view.visible_text()


async def test_messages_added_before_the_widget_has_a_size() -> None:
    class EarlyApp(App[None]):
        def compose(self) -> ComposeResult:
            view = Transcript()
            view.add_message("user", "early question")
            view.begin_reply("m")
            view.append_reply("early answer")
            view.end_reply("stopped")
            yield view

    app = EarlyApp()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        view = app.query_one(Transcript)
        text = view.visible_text()
        assert "early question" in text
        assert "early answer" in text
        assert "⏹ stopped" in text


async def test_tokens_arriving_faster_than_frames_are_drawn_together() -> None:
    app = TranscriptApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(Transcript)
        view.begin_reply()
        await settle(pilot)
        flushes = 0
        flush = view._flush

        def counting_flush() -> None:
            nonlocal flushes
            flushes += 1
            flush()

        view._flush = counting_flush  # type: ignore[method-assign]
        for i in range(200):
            view.append_reply(f"w{i} ")
            await asyncio.sleep(0)  # the event loop runs, but a frame is 1/30 s
        await settle(pilot)
        assert 1 <= flushes <= 5
        assert "w199" in view.visible_text()


async def test_resize_keeps_the_message_at_the_top_of_the_view() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.query_one(Transcript)
        for i in range(400):
            view.add_message("user", f"message number {i} " + "lorem ipsum " * (i % 13))
        await settle(pilot)
        view._sync()
        view.scroll_to(y=view._offsets[200], animate=False)
        await settle(pilot)
        assert view.visible_text().splitlines()[1].startswith("▌ message number 200 ")
        await pilot.resize_terminal(50, 30)
        await settle(pilot)
        assert view.visible_text().splitlines()[1].startswith("▌ message number 200 ")
        await pilot.resize_terminal(130, 20)
        await settle(pilot)
        assert view.visible_text().splitlines()[1].startswith("▌ message number 200 ")


# ------------------------------------------------- jumping to a message, message cursor


def fill(view: Transcript, count: int) -> None:
    for i in range(count):
        view.add_message("user" if i % 2 == 0 else "assistant", f"message number {i} " + "lorem ipsum " * (i % 13))


async def test_scroll_to_message_shows_it_at_the_top_and_renders_only_around_it() -> None:
    app = TranscriptApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(Transcript)
        view.add_notice("a notice is not a message")
        fill(view, 5000)
        await settle(pilot)
        assert view.message_count == 5000
        renders: list[str] = []
        render = view._render_markdown

        def spy(text: str, width: int):  # type: ignore[no-untyped-def]
            renders.append(text)
            return render(text, width)

        view._render_markdown = spy  # type: ignore[method-assign]
        view.scroll_to_message(1001)  # an assistant message, counted without the notice
        # At once, before any frame: the message heads the view.
        assert view.visible_text().splitlines()[:2] == ["Assistant", "message number 1001"]
        await settle(pilot)
        assert view.visible_text().splitlines()[:2] == ["Assistant", "message number 1001"]
        assert len(renders) < 40  # a screenful or two of the 2,500 replies
        assert view.cursor == 1001 and view.highlighted_text == "message number 1001 "

        # It no longer follows the end: new messages do not move the view.
        view.add_message("user", "a new question")
        view.begin_reply()
        view.append_reply("a new answer")
        await settle(pilot)
        assert view.visible_text().splitlines()[:2] == ["Assistant", "message number 1001"]
        view.end_reply()


async def test_scroll_to_message_before_the_widget_has_a_size() -> None:
    class EarlyApp(App[None]):
        def compose(self) -> ComposeResult:
            view = Transcript()
            fill(view, 300)
            view.scroll_to_message(7)
            yield view

    app = EarlyApp()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        view = app.query_one(Transcript)
        head = view.visible_text().splitlines()[:2]
        assert head[0] == "Assistant" and head[1].startswith("message number 7 lorem")


async def test_scroll_to_message_finds_a_line_far_down_a_long_message() -> None:
    app = TranscriptApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(Transcript)
        fill(view, 50)
        view.add_message("assistant", "\n\n".join(f"paragraph {i}" for i in range(60)) + "\n\nthe NEEDLE is here")
        fill(view, 50)
        await settle(pilot)
        view.scroll_to_message(50, find="needle")
        await settle(pilot)
        assert "the NEEDLE is here" in view.visible_text()
        view.scroll_to_message(50)
        await settle(pilot)
        assert view.visible_text().splitlines()[:2] == ["Assistant", "paragraph 0"]


async def test_message_cursor_moves_marks_and_skips_notices_without_re_rendering() -> None:
    app = TranscriptApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(Transcript)
        fill(view, 40)
        view.add_notice("a notice between messages")
        view.add_message("user", "last question")
        await settle(pilot)
        view.focus()
        await settle(pilot)
        renders: list[str] = []
        render = view._render_markdown

        def spy(text: str, width: int):  # type: ignore[no-untyped-def]
            renders.append(text)
            return render(text, width)

        view._render_markdown = spy  # type: ignore[method-assign]
        assert view.cursor is None
        await pilot.press("k")
        assert view.cursor == 40 and view.highlighted_text == "last question"
        await pilot.press("k")
        assert view.cursor == 39  # the notice was skipped
        await pilot.press("j", "j", "j")
        assert view.cursor == 40  # stays on the last message
        await settle(pilot)
        assert renders == []  # moving the highlight only restyles lines as they are drawn

        def background(text: str) -> object:
            y = next(y for y in range(SIZE[1]) if text in view.render_line(y).text)
            return list(view.render_line(y))[-1].style.bgcolor  # the padding at the end

        assert background("last question") != background("a notice between messages")
        await pilot.press("k")
        await settle(pilot)
        assert background("last question") == background("a notice between messages")

        # Going up past the view scrolls the highlighted message into view.
        for _ in range(20):
            await pilot.press("k")
        await settle(pilot)
        assert view.cursor == 19
        assert "message number 19 " in view.visible_text()
        assert view.scroll_y < view.max_scroll_y


async def test_click_highlights_a_message() -> None:
    app = TranscriptApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(Transcript)
        view.add_message("user", "first")
        view.add_message("assistant", "second")
        await settle(pilot)
        # Padding: 1 line on top, 2 cells on the left. Line 3 is "Assistant".
        await pilot.click(Transcript, offset=(4, 1 + 3))
        await settle(pilot)
        assert view.has_focus and view.cursor == 1 and view.highlighted_text == "second"
        view.clear()
        assert view.cursor is None
