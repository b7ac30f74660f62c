"""Copying to the clipboard: the last reply, the highlighted message, one code block."""

from __future__ import annotations

from textual.widgets import OptionList

from apphelpers import make_app, wait_for
from fake_openai import Reply
from tuichat.store import Store
from tuichat.ui.code_blocks import CodeBlock, code_blocks
from tuichat.ui.screens.chat import ChatScreen
from tuichat.ui.screens.code_picker import CodePicker
from tuichat.ui.widgets.transcript import Transcript

SIZE = (100, 34)

REPLY_WITH_CODE = """Two ways:

```python
def greet(name):
    return f"hello {name}"
```

or in the shell:

```sh
echo "hello $USER"
ls -l | wc -l
```
"""


def notes(app, monkeypatch) -> list[str]:
    """Every notification, as plain strings, in order."""
    seen: list[str] = []
    notify = app.notify

    def recording(message, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(str(message))
        return notify(message, *args, **kwargs)

    monkeypatch.setattr(app, "notify", recording)
    return seen


def seeded(tmp_path) -> tuple[Store, int]:
    store = Store(tmp_path / "tuichat.db")
    thread = store.create_thread("default", "test-model")
    store.add_message(thread.id, "user", "How do I greet? 挨拶は？")
    store.add_message(thread.id, "assistant", REPLY_WITH_CODE)
    store.add_message(thread.id, "user", "Thanks! ありがとう")
    store.add_message(thread.id, "assistant", "You are welcome. どういたしまして。")
    return store, thread.id


def chat(app) -> ChatScreen:
    screen = app.screen
    assert isinstance(screen, ChatScreen)
    return screen


async def open_seeded(pilot, thread_id: int) -> tuple[ChatScreen, Transcript]:
    screen = chat(pilot.app)
    assert await screen.open_thread(thread_id)
    await wait_for(pilot, lambda: screen.transcript.message_count > 0 and screen.transcript.visible_text())
    return screen, screen.transcript


def test_code_blocks_lose_their_fences_and_keep_indentation() -> None:
    blocks = code_blocks(REPLY_WITH_CODE + "\n~~~~\n```\nnested fence\n```\n~~~~\n\n    indented, not fenced\n")
    assert blocks == [
        CodeBlock("python", 'def greet(name):\n    return f"hello {name}"'),
        CodeBlock("sh", 'echo "hello $USER"\nls -l | wc -l'),
        CodeBlock("", "```\nnested fence\n```"),
    ]
    assert blocks[0].first_line == "def greet(name):"
    assert code_blocks("no code here") == []


async def test_copy_last_reply_after_streaming(tmp_path, fake_server, monkeypatch):
    fake_server.script(Reply.text("Streamed **answer**: 東京 🍣"))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=SIZE) as pilot:
        seen = notes(app, monkeypatch)
        screen = chat(app)
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert app.clipboard == ""
        assert seen[-1] == "No reply to copy yet."

        screen.composer.text = "hi"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.thread is not None and not screen.generating)
        await pilot.press("ctrl+o")  # from the composer, which has focus
        await pilot.pause()
        assert app.clipboard == "Streamed **answer**: 東京 🍣"  # the Markdown source
        assert seen[-1] == f"Copied {len('Streamed **answer**: 東京 🍣')} characters"
        assert screen.composer.text == ""


async def test_copy_last_reply_of_a_stored_thread(tmp_path, fake_server):
    store, thread_id = seeded(tmp_path)
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        await open_seeded(pilot, thread_id)
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert app.clipboard == "You are welcome. どういたしまして。"


async def test_copy_the_highlighted_message(tmp_path, fake_server, monkeypatch):
    store, thread_id = seeded(tmp_path)
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        seen = notes(app, monkeypatch)
        _, transcript = await open_seeded(pilot, thread_id)
        transcript.focus()
        await pilot.press("k")  # the last message in view
        await pilot.pause()
        assert transcript.cursor == 3
        await pilot.press("k")
        await pilot.pause()
        assert transcript.cursor == 2
        await pilot.press("c")
        await pilot.pause()
        assert app.clipboard == "Thanks! ありがとう"
        assert seen[-1] == "Copied 13 characters"  # characters, not cells or bytes
        await pilot.press("k", "k", "k", "k")  # stops at the first message
        await pilot.press("c")
        await pilot.pause()
        assert transcript.cursor == 0
        assert app.clipboard == "How do I greet? 挨拶は？"
        await pilot.press("j", "c")
        await pilot.pause()
        assert app.clipboard == REPLY_WITH_CODE  # the Markdown source, fences and all


async def test_the_highlighted_message_is_marked_only_while_focused(tmp_path, fake_server):
    store, thread_id = seeded(tmp_path)
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        screen, transcript = await open_seeded(pilot, thread_id)
        transcript.focus()
        await pilot.press("k")
        await pilot.pause()

        def backgrounds() -> dict[str, set]:  # line text -> background colours drawn
            found = {}
            for y in range(transcript.scrollable_content_region.height):
                strip = transcript.render_line(y)
                found[strip.text.strip()] = {seg.style.bgcolor for seg in strip if seg.style}
            return found

        marked = backgrounds()
        highlighted = marked["You are welcome. どういたしまして。"]
        plain = marked["Thanks! ありがとう".join(["▌ ", ""])]
        assert highlighted and plain and highlighted.isdisjoint(plain)
        screen.composer.focus()
        await pilot.pause()
        unmarked = backgrounds()
        assert unmarked["You are welcome. どういたしまして。"] == unmarked["▌ Thanks! ありがとう"]


async def test_copy_a_code_block_of_the_highlighted_message(tmp_path, fake_server, monkeypatch):
    store, thread_id = seeded(tmp_path)
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        seen = notes(app, monkeypatch)
        screen, transcript = await open_seeded(pilot, thread_id)
        transcript.focus()
        await pilot.press("k", "k", "k")  # the reply with the code
        await pilot.pause()
        assert transcript.cursor == 1
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, CodePicker))
        options = app.screen.query_one(OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert labels == ["1  python  2 lines  def greet(name):", '2  sh  2 lines  echo "hello $USER"']
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: app.screen is screen)
        assert app.clipboard == 'echo "hello $USER"\nls -l | wc -l'
        assert "```" not in app.clipboard
        assert seen[-1] == f"Copied {len(app.clipboard)} characters"

        await pilot.press("y", "enter")  # the first block this time
        await wait_for(pilot, lambda: app.screen is screen)
        assert app.clipboard == 'def greet(name):\n    return f"hello {name}"'


async def test_copy_code_without_a_highlight_uses_the_last_reply(tmp_path, fake_server, monkeypatch):
    fake_server.script(Reply.text("Run:\n\n```bash\nmake test\n```\n"), Reply.text("No code, sorry."))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=SIZE) as pilot:
        seen = notes(app, monkeypatch)
        screen = chat(app)
        screen.composer.text = "how?"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.thread is not None and not screen.generating)
        screen.transcript.focus()
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, CodePicker))
        await pilot.press("escape")  # closes without copying
        await wait_for(pilot, lambda: app.screen is screen)
        assert app.clipboard == ""
        await pilot.press("y", "enter")
        await wait_for(pilot, lambda: app.screen is screen)
        assert app.clipboard == "make test"

        screen.composer.text = "and?"
        screen.composer.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: not screen.generating and "sorry" in screen.transcript.all_text())
        screen.transcript.focus()
        await pilot.press("y")
        await pilot.pause()
        assert app.screen is screen
        assert seen[-1] == "No code blocks in this message."
        assert app.clipboard == "make test"


async def test_copy_keys_can_be_remapped(tmp_path, fake_server):
    store, thread_id = seeded(tmp_path)
    app = make_app(tmp_path, fake_server.base_url, store=store,
                   keymap={"copy_message": "x", "previous_message": "p", "copy_reply": "f3"})
    async with app.run_test(size=SIZE) as pilot:
        screen, transcript = await open_seeded(pilot, thread_id)
        await pilot.press("f3")
        await pilot.pause()
        assert app.clipboard == "You are welcome. どういたしまして。"
        transcript.focus()
        await pilot.press("p", "p", "c")  # c is no longer copy_message
        await pilot.pause()
        assert app.clipboard == "You are welcome. どういたしまして。"
        await pilot.press("x")
        await pilot.pause()
        assert app.clipboard == "Thanks! ありがとう"
