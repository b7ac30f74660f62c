"""Slash commands in the composer, Tab completion, and the command palette."""

from __future__ import annotations

import json

from apphelpers import make_app, peek, wait_for
from fake_openai import Reply
from tuichat.ui.screens.chat import ChatScreen
from tuichat.ui.screens.persona_picker import PersonaPicker
from tuichat.ui.widgets.composer import Composer
from tuichat.ui.widgets.transcript import Transcript


def parts(app):
    screen = app.screen
    assert isinstance(screen, ChatScreen)
    return screen, screen.query_one(Transcript), screen.query_one(Composer)


async def type_enter(pilot, text: str) -> None:
    _, _, composer = parts(pilot.app)
    composer.text = text
    await pilot.press("enter")
    await pilot.pause()


async def send(pilot, text: str) -> None:
    screen, _, _ = parts(pilot.app)
    await type_enter(pilot, text)
    await wait_for(pilot, lambda: not screen.generating and screen.thread is not None)


def record(app, monkeypatch) -> list[str]:
    seen: list[str] = []
    notify = app.notify

    def recording(message, *args, **kwargs):
        seen.append(str(message))
        return notify(message, *args, **kwargs)

    monkeypatch.setattr(app, "notify", recording)
    return seen


async def test_unknown_command_is_never_sent_and_lists_the_commands(tmp_path, fake_server):
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 40)) as pilot:
        screen, transcript, composer = parts(app)
        await type_enter(pilot, "/frobnicate the widgets")
        await pilot.pause(0.2)
        assert fake_server.chat_requests == []
        assert composer.text == "/frobnicate the widgets"  # nothing typed is lost
        assert screen.thread is None  # no thread, no stored message
        text = transcript.all_text()
        assert "Unknown command /frobnicate" in text
        for usage in ("/new [persona]", "/reset", "/model NAME", "/export md|json", "/help"):
            assert usage in text


async def test_double_slash_sends_a_literal_slash(tmp_path, fake_server):
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, _, composer = parts(app)
        await send(pilot, "//etc is a folder")
        assert fake_server.chat_requests[-1].json["messages"][-1] == {"role": "user", "content": "/etc is a folder"}
        assert peek(app).messages(screen.thread.id)[0].content == "/etc is a folder"
        assert composer.text == ""


async def test_bad_arguments_keep_the_text(tmp_path, fake_server):
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, transcript, composer = parts(app)
        await type_enter(pilot, "/title   ")
        assert "needs an argument" in transcript.all_text()
        await type_enter(pilot, "/title Too early")
        assert "send a message first" in transcript.all_text()
        assert composer.text == "/title Too early"
        await type_enter(pilot, "/persona nobody")
        assert "No persona named 'nobody'" in transcript.all_text() and "ojousama" in transcript.all_text()
        assert composer.text == "/persona nobody"
        assert fake_server.chat_requests == []


async def test_title_model_and_reset(tmp_path, fake_server):
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, _, composer = parts(app)
        await send(pilot, "hello")
        thread_id = screen.thread.id
        await type_enter(pilot, "/title 朝の日記 notes")
        assert peek(app).get_thread(thread_id).title == "朝の日記 notes" and composer.text == ""
        await type_enter(pilot, "/model qwen3:8b")
        assert screen.model == "qwen3:8b" and peek(app).get_thread(thread_id).model == "qwen3:8b"
        await send(pilot, "again")
        assert fake_server.chat_requests[-1].json["model"] == "qwen3:8b"
        await type_enter(pilot, "/reset")
        assert screen.thread is None and screen.model == "qwen3:8b" and composer.text == ""


async def test_persona_and_new_switch_persona_for_a_new_thread(tmp_path, fake_server):
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, _, composer = parts(app)
        await send(pilot, "hello")
        await type_enter(pilot, "/persona ojousama")
        assert screen.persona.name == "ojousama" and screen.thread is None and composer.text == ""
        await send(pilot, "ごきげんよう")
        assert peek(app).get_thread(screen.thread.id).persona == "ojousama"
        await type_enter(pilot, "/new diary")
        assert screen.persona.name == "diary" and screen.thread is None
        await type_enter(pilot, "/new")  # no name: the persona picker
        assert isinstance(app.screen, PersonaPicker)
        await pilot.press("escape")
        await pilot.pause()
        await type_enter(pilot, "/persona")
        assert isinstance(app.screen, PersonaPicker)


async def test_export_writes_markdown_and_json_named_from_the_title(tmp_path, fake_server, monkeypatch):
    fake_server.script(Reply.text("WAL is a journal mode."))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, transcript, composer = parts(app)
        await type_enter(pilot, "/export")
        assert "Nothing to export yet" in transcript.all_text() and composer.text == "/export"
        await send(pilot, "What is WAL?")
        await type_enter(pilot, "/export md")
        await type_enter(pilot, "/export json")
        await type_enter(pilot, "/export md")  # never overwrites an earlier export
        assert sorted(p.name for p in work.iterdir()) == sorted(["What-is-WAL.json", "What-is-WAL.md", "What-is-WAL-2.md"])
        markdown = (work / "What-is-WAL.md").read_text(encoding="utf-8")
        assert "What is WAL?" in markdown and "WAL is a journal mode." in markdown
        data = json.loads((work / "What-is-WAL.json").read_text(encoding="utf-8"))
        assert "WAL is a journal mode." in json.dumps(data, ensure_ascii=False)
        text = transcript.all_text()
        assert "Exported this thread to" in text and "What-is-WAL-2.md" in text  # it says where


async def test_search_command_opens_the_search_screen_with_the_query(tmp_path, fake_server):
    from tuichat.ui.screens.search import SearchScreen

    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        _, _, composer = parts(app)
        await type_enter(pilot, "/search wal mode")
        assert isinstance(app.screen, SearchScreen)
        assert app.screen.query_input.value == "wal mode"
        assert composer.text == ""


async def test_help_lists_commands_and_current_keys(tmp_path, fake_server):
    from textual.widgets import Static

    from tuichat.ui.screens.help import HelpScreen

    app = make_app(tmp_path, fake_server.base_url, keymap={"regenerate": "f10"})
    async with app.run_test(size=(100, 60)) as pilot:
        _, transcript, composer = parts(app)
        await type_enter(pilot, "/help")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = "\n".join(str(w.render()) for w in app.screen.query(Static))
        assert "/title TEXT" in text and "/system [TEXT]" in text
        assert "Regenerate the last reply" in text and "f10" in text.lower()
        assert "ctrl+g" not in text.lower()  # remapped: the old key is not offered
        assert composer.text == ""
        assert fake_server.chat_requests == []


async def test_tab_completes_commands_and_names(tmp_path, fake_server, monkeypatch):
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, _, composer = parts(app)
        await pilot.press(*"/mo", "tab")
        assert composer.text == "/model " and composer.has_focus
        await pilot.press(*"fake-model-m")
        await wait_for(pilot, lambda: app.server_models is not None)
        await pilot.press("tab")
        assert composer.text == "/model fake-model-mini"
        composer.text = "/persona oj"
        composer.move_cursor(composer.document.end)
        await pilot.press("tab")
        assert composer.text == "/persona ojousama"
        composer.text = "/"
        composer.move_cursor(composer.document.end)
        # The menu lists every command as "/" is typed; Tab completes the highlighted one.
        await wait_for(pilot, lambda: screen.slash_menu.display)
        listed = [str(screen.slash_menu.get_option_at_index(i).prompt)
                  for i in range(screen.slash_menu.option_count)]
        assert any("/export" in line for line in listed) and any("/persona" in line for line in listed)
        await pilot.press("down", "tab")
        assert composer.text == "/reset"
        composer.text = "plain text"
        await pilot.press("tab")  # not a command: Tab moves the focus as before
        assert not composer.has_focus and composer.text == "plain text"


async def test_palette_lists_the_commands_with_keys_and_runs_them(tmp_path, fake_server):
    from textual.command import CommandList, CommandPalette

    fake_server.script("first", "second")
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(120, 40)) as pilot:
        screen, _, _ = parts(app)
        await send(pilot, "question")
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)

        def listed() -> str:
            options = app.screen.query_one(CommandList)
            return "\n".join(str(options.get_option_at_index(i).prompt) for i in range(options.option_count))

        await pilot.press("down")  # show every command
        for name in ("Regenerate", "Model", "Persona…", "New", "Reset", "Export as Markdown",
                     "Export as JSON", "Help", "Search", "Rename"):
            await wait_for(pilot, lambda name=name: name in listed())
        assert "^g" in listed() and "f4" in listed()  # the current keys
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.press(*"regenerate")
        await wait_for(pilot, lambda: "Regenerate" in listed())
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(fake_server.chat_requests) == 2 and not screen.generating)
        assert [m.status for m in peek(app).messages(screen.thread.id)] == ["done", "superseded", "done"]
