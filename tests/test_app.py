"""The real app, driven through the Pilot, against the fake server."""

from __future__ import annotations

import pytest

from apphelpers import make_app, peek, wait_for
from fake_openai import Reply
from tuichat.config import KEYMAP_IDS
from tuichat.core.models import DONE, ERROR, STOPPED
from tuichat.ui.screens.chat import ChatScreen
from tuichat.ui.widgets.composer import Composer
from tuichat.ui.widgets.thread_list import ThreadList
from tuichat.ui.widgets.transcript import Transcript


def parts(app):
    screen = app.screen
    assert isinstance(screen, ChatScreen)
    return screen, screen.query_one(Transcript), screen.query_one(Composer)


async def send(pilot, text: str) -> None:
    _, _, composer = parts(pilot.app)
    composer.text = text
    await pilot.press("enter")


async def test_streaming_shows_partial_text_before_the_end(tmp_path, fake_server):
    fake_server.script(Reply(chunks=["Hello ", "partial ", "world"], stall_after=2))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, transcript, composer = parts(app)
        await send(pilot, "hi")
        await wait_for(pilot, lambda: "partial" in transcript.all_text())
        assert screen.generating
        assert "Hello partial" in transcript.visible_text()
        assert composer.text == ""  # sent and stored, so cleared
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen.generating)


async def test_reply_is_rendered_and_stored(tmp_path, fake_server):
    fake_server.script(Reply.text("# Title\n\nSome **bold** text and `code`.\n\n- item one\n- 日本語の項目\n"))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, transcript, _ = parts(app)
        await send(pilot, "format please")
        await wait_for(pilot, lambda: not screen.generating)
        text = transcript.all_text()
        assert "Title" in text and "**bold**" not in text and "bold" in text
        assert "日本語の項目" in text
        rows = peek(app).messages(screen.thread.id)
        assert [(m.role, m.status) for m in rows] == [("user", DONE), ("assistant", DONE)]


async def test_lock_refuses_a_second_send_and_keeps_the_draft(tmp_path, fake_server):
    fake_server.script(Reply(chunks=["slow ", "reply"], stall_after=1))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, transcript, composer = parts(app)
        await send(pilot, "first")
        await wait_for(pilot, lambda: "slow" in transcript.all_text())
        await send(pilot, "my next draft")
        # The refusal is the event a second send would have raced: once it is said, look.
        await wait_for(pilot, lambda: any("Still generating" in (n.title or "") for n in app._notifications))
        assert composer.text == "my next draft"
        assert len(fake_server.chat_requests) == 1
        assert [m.content for m in peek(app).messages(screen.thread.id) if m.role == "user"] == ["first"]
        assert screen.generating
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen.generating)
        assert composer.text == "my next draft"


async def test_escape_stops_mid_stall_and_keeps_partial_text(tmp_path, fake_server):
    fake_server.script(Reply(chunks=["kept ", "text ", "never sent"], stall_after=2))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, transcript, _ = parts(app)
        await send(pilot, "go")
        await wait_for(pilot, lambda: "kept text" in transcript.all_text())
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen.generating, timeout=1.0)
        reply = peek(app).messages(screen.thread.id)[-1]
        assert (reply.content, reply.status) == ("kept text ", STOPPED)
        assert "kept text" in transcript.all_text()
        assert "stopped" in transcript.all_text()
        # The lock is released: the next send goes through.
        fake_server.script(Reply.text("again"))
        await send(pilot, "next")
        await wait_for(pilot, lambda: not screen.generating and "again" in transcript.all_text())


async def test_reset_starts_a_fresh_thread_without_old_history(tmp_path, fake_server):
    fake_server.script(Reply.text("first answer"), Reply.text("fresh answer"))
    app = make_app(tmp_path, fake_server.base_url, persona="ojousama")
    async with app.run_test(size=(100, 30)) as pilot:
        screen, transcript, _ = parts(app)
        await send(pilot, "old question")
        await wait_for(pilot, lambda: not screen.generating and "first answer" in transcript.all_text())
        old_thread = screen.thread
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert "first answer" not in transcript.all_text()
        await send(pilot, "new question")
        await wait_for(pilot, lambda: not screen.generating and "fresh answer" in transcript.all_text())
        assert screen.thread.id != old_thread.id
        assert screen.thread.persona == "ojousama" and screen.thread.model == old_thread.model
        sent = fake_server.chat_requests[-1].json["messages"]
        assert [m["role"] for m in sent] == ["system", "user"]
        assert "わたくし" in sent[0]["content"] and sent[1]["content"] == "new question"
        # The old thread stays, in the database and in the list.
        assert len(peek(app).messages(old_thread.id)) == 2
        options = screen.query_one(ThreadList)
        assert options.option_count == 2


async def test_selecting_a_thread_shows_and_continues_it(tmp_path, fake_server):
    from tuichat.store import Store

    store = Store(tmp_path / "tuichat.db")
    old = store.create_thread("default", "old-model")
    store.add_message(old.id, "user", "remember 42")
    store.add_message(old.id, "assistant", "I will remember 42.")
    fake_server.script(Reply.text("It was 42."))
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, transcript, _ = parts(app)
        assert "remember 42" not in transcript.all_text()
        threads = screen.query_one(ThreadList)
        threads.focus()
        threads.highlighted = 0
        await pilot.press("enter")
        await wait_for(pilot, lambda: "I will remember 42." in transcript.all_text())
        assert screen.thread.id == old.id
        await send(pilot, "what was it?")
        await wait_for(pilot, lambda: not screen.generating and "It was 42." in transcript.all_text())
        body = fake_server.chat_requests[-1].json
        assert body["model"] == "old-model"
        assert [m["content"] for m in body["messages"][1:]] == ["remember 42", "I will remember 42.", "what was it?"]


ERRORS = {
    "auth": Reply.error(401, "Incorrect API key provided: sk-test-key-0123456789"),
    "not_found": Reply.error(404, "The model `test-model` does not exist"),
    "rate_limit": Reply.error(429, "Rate limit reached"),
    "server": Reply.error(503, "overloaded"),
    "disconnected": Reply(chunks=["half ", "a reply", "never"], disconnect_after=2),
    "timeout": Reply(chunks=["late"], first_delay=3.0),
}


@pytest.mark.parametrize("kind", [*ERRORS, "connection"])
async def test_each_error_is_shown_and_leaves_the_app_usable(tmp_path, fake_server, kind):
    if kind == "connection":
        base_url = "http://127.0.0.1:9/v1"  # the discard port: nothing listens there
    else:
        base_url = fake_server.base_url
        fake_server.script(ERRORS[kind])
    app = make_app(tmp_path, base_url, timeout=0.5 if kind == "timeout" else 5.0)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, transcript, composer = parts(app)
        await send(pilot, "question that fails")
        await wait_for(pilot, lambda: not screen.generating)
        reply = peek(app).messages(screen.thread.id)[-1]
        assert reply.role == "assistant" and reply.status == ERROR and reply.error
        assert "⚠ error" in transcript.all_text()
        assert "sk-test-key-0123456789" not in transcript.all_text()
        assert "sk-test-key-0123456789" not in (reply.error or "")
        if kind == "disconnected":
            assert reply.content == "half a reply"
            assert "half a reply" in transcript.all_text()
        # The prompt is kept and retry is one key away; the lock was released.
        assert peek(app).messages(screen.thread.id)[0].content == "question that fails"
        if kind != "connection":
            fake_server.script(Reply.text("works now"))
            await pilot.press("f5")
            await wait_for(pilot, lambda: not screen.generating and "works now" in transcript.all_text())
            assert fake_server.chat_requests[-1].json["messages"][-1]["content"] == "question that fails"
        # The composer takes typing again (focus kept, nothing locked).
        composer.text = ""
        await pilot.press(*"next")
        assert composer.text == "next" and composer.has_focus


async def test_no_api_key_starts_shows_history_and_keeps_the_draft(tmp_path, fake_server):
    from tuichat.store import Store

    store = Store(tmp_path / "tuichat.db")
    store.add_message(store.create_thread("default", "m").id, "user", "an old thread")
    app = make_app(tmp_path, fake_server.base_url, api_key="", store=store)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, transcript, composer = parts(app)
        assert screen.query_one(ThreadList).option_count == 1
        assert "OPENAI_API_KEY" in transcript.all_text()
        await send(pilot, "please keep me")
        await wait_for(pilot, lambda: any("No API key" in (n.title or "") for n in app._notifications))
        assert composer.text == "please keep me"
        assert fake_server.chat_requests == []


async def test_new_thread_picks_a_persona(tmp_path, fake_server):
    fake_server.script(Reply.text("ごきげんよう"))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+n")
        await pilot.pause()
        picker = app.screen
        options = picker.query_one("#persona-options")
        options.highlighted = options.get_option_index("ojousama")
        await pilot.press("enter")
        await pilot.pause()
        screen, transcript, _ = parts(app)
        assert screen.persona.name == "ojousama"
        await send(pilot, "こんにちは")
        await wait_for(pilot, lambda: not screen.generating)
        assert screen.thread.persona == "ojousama"
        assert "わたくし" in fake_server.chat_requests[-1].json["messages"][0]["content"]


async def test_keymap_remaps_a_binding(tmp_path, fake_server):
    fake_server.script(Reply.text("one"))
    app = make_app(tmp_path, fake_server.base_url, keymap={"reset": "ctrl+e"})
    async with app.run_test(size=(100, 30)) as pilot:
        screen, transcript, _ = parts(app)
        await send(pilot, "q")
        await wait_for(pilot, lambda: not screen.generating)
        await pilot.press("ctrl+r")  # no longer bound to reset
        await pilot.pause()
        assert screen.thread is not None
        await pilot.press("ctrl+e")
        await pilot.pause()
        assert screen.thread is None and "one" not in transcript.all_text()


async def test_every_binding_has_an_id_that_config_accepts(tmp_path, fake_server):
    from tuichat.ui.screens.dialogs import ConfirmDialog, TextPromptDialog
    from tuichat.ui.screens.persona_picker import PersonaPicker
    from tuichat.ui.app import TuichatApp
    from tuichat.ui.widgets.thread_panel import ThreadFilter
    from tuichat.ui.screens.code_picker import CodePicker
    from tuichat.ui.screens.search import SearchScreen
    from tuichat.ui.widgets.transcript import Transcript
    from tuichat.ui.screens.model_picker import ModelPicker
    from tuichat.ui.screens.help import HelpScreen

    ids = set()
    for cls in (TuichatApp, ChatScreen, Composer, PersonaPicker, ThreadList, ThreadFilter,
                ConfirmDialog, TextPromptDialog, SearchScreen, CodePicker, Transcript, ModelPicker,
                HelpScreen):
        for binding in cls.BINDINGS:
            assert binding.id, f"{cls.__name__} binding {binding.key} has no id"
            ids.add(binding.id)
    assert ids == set(KEYMAP_IDS)


async def test_shift_enter_and_ctrl_j_insert_newlines(tmp_path, fake_server):
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, _, composer = parts(app)
        await pilot.press("a", "ctrl+j", "b", "shift+enter", "c")
        assert composer.text == "a\nb\nc"
        assert fake_server.chat_requests == [] and screen.thread is None


async def test_enter_in_the_same_read_as_typed_text_sends_all_of_it(tmp_path, fake_server):
    # A terminal can deliver "thanks\r" in one read (fast typing, or a busy UI loop): the
    # keys are queued together, and Enter must not overtake the letters before it.
    from textual import events

    fake_server.script(Reply.text("ok"))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, transcript, composer = parts(app)
        for char in "thanks":
            app.post_message(events.Key(char, char))
        app.post_message(events.Key("enter", "\r"))
        await wait_for(pilot, lambda: screen.thread is not None and not screen.generating)
        assert [m.content for m in peek(app).messages(screen.thread.id)][:1] == ["thanks"]
        assert composer.text == ""
        # The same for a newline typed in the middle of a burst.
        for key, char in [("a", "a"), ("ctrl+j", "\n"), ("b", "b")]:
            app.post_message(events.Key(key, char))
        await wait_for(pilot, lambda: composer.text == "a\nb")

async def test_model_output_is_never_markup_or_escape_codes(tmp_path, fake_server):
    fake_server.script(Reply.text("[bold red]not markup[/] \x1b[31mred\x1b[0m done"))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, transcript, _ = parts(app)
        await send(pilot, "q")
        await wait_for(pilot, lambda: not screen.generating)
        text = transcript.all_text()
        assert "[bold red]not markup[/]" in text
        assert "\x1b" not in text and "␛[31m" in text


async def test_length_cut_off_and_reasoning_are_shown_apart(tmp_path, fake_server):
    fake_server.script(Reply(chunks=["The answer starts"], reasoning=["let me think"], finish_reason="length"))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, transcript, _ = parts(app)
        await send(pilot, "q")
        await wait_for(pilot, lambda: not screen.generating)
        text = transcript.all_text()
        assert "cut off" in text and "let me think" in text
        assert transcript.reply_text == "The answer starts"
        reply = peek(app).messages(screen.thread.id)[-1]
        assert (reply.content, reply.reasoning, reply.finish_reason) == ("The answer starts", "let me think", "length")
        # Reasoning is never sent back as history.
        fake_server.script(Reply.text("next"))
        await send(pilot, "more")
        await wait_for(pilot, lambda: not screen.generating)
        assert "let me think" not in str(fake_server.chat_requests[-1].json["messages"])


SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def spinning(text: str) -> bool:
    return any(f"{frame} …" in text for frame in SPINNER)


async def test_waiting_indicator_until_the_first_token(tmp_path, fake_server):
    # The server holds the first token back (stall before any content) until the client
    # leaves: the indicator is shown for as long as that takes, never raced by a timer.
    fake_server.script(Reply(chunks=["arrived"], stall_after=0), Reply.text("arrived"))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, transcript, _ = parts(app)
        assert not spinning(transcript.all_text())
        await send(pilot, "q")
        await wait_for(pilot, lambda: len(fake_server.chat_requests) == 1 and spinning(transcript.all_text()))
        assert screen.generating and "arrived" not in transcript.all_text()
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen.generating)
        assert not spinning(transcript.all_text())  # stopped: the indicator is gone
        # With the token, the indicator gives way to the text.
        await send(pilot, "again")
        await wait_for(pilot, lambda: not screen.generating and "arrived" in transcript.all_text())
        assert not spinning(transcript.all_text())


async def test_server_error_text_is_not_markup(tmp_path, fake_server):
    # Invalid markup and a $variable: interpreted, either would raise or restyle.
    fake_server.script(Reply.error(500, "broken [/] tag and [b]$variable"))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        screen, transcript, _ = parts(app)
        await send(pilot, "q")
        await wait_for(pilot, lambda: not screen.generating)
        assert "broken [/] tag and [b]$variable" in transcript.all_text().replace("\n", " ")
        from textual.widgets._toast import Toast

        await wait_for(pilot, lambda: len(app.screen.query(Toast)) > 0)
        shown = [str(toast.render()) for toast in app.screen.query(Toast)]
        assert any("broken [/] tag and [b]$variable" in text for text in shown), shown


async def test_sdk_client_is_built_in_the_background_once_typing_starts(tmp_path, fake_server):
    # Browsing history never builds the SDK client (~25 MB); typing does, in a worker
    # thread, so the first send does not wait for it on the UI loop.
    fake_server.script(Reply.text("warm"))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        provider = app.session.provider
        # run_test returns once the first screen's reads are done (apphelpers): what
        # would have built the client at start-up has run by now.
        assert app.screen.ready
        await pilot.pause()
        assert provider._client is None and app._warm_up_worker is None
        await pilot.press("h")
        await wait_for(pilot, lambda: provider._client is not None)
        client = provider._client
        await pilot.press("i", "enter")
        screen, transcript, _ = parts(app)
        await wait_for(pilot, lambda: screen.thread is not None and not screen.generating)
        assert "warm" in transcript.all_text()
        assert provider._client is client  # the warmed client is the one that streamed

async def test_unsent_draft_survives_quitting(tmp_path, fake_server):
    from tuichat.store import Store

    db = tmp_path / "tuichat.db"
    app = make_app(tmp_path, fake_server.base_url, store=Store(db))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*"half a thought", "ctrl+j", *"続きは明日")
        _, _, composer = parts(app)
        assert composer.text == "half a thought\n続きは明日"
        await pilot.press("ctrl+q")
    app = make_app(tmp_path, fake_server.base_url, store=Store(db))
    async with app.run_test(size=(100, 30)) as pilot:
        screen, _, composer = parts(app)
        assert composer.text == "half a thought\n続きは明日"
        assert composer.cursor_location == composer.document.end
        # Once sent, the draft is gone for the next start.
        fake_server.script(Reply.text("ok"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.thread is not None and not screen.generating)
        await pilot.pause(1.2)  # the draft is saved by a 1 s timer
        assert peek(app).get_draft() == ""


async def test_notices_never_cover_the_composer(tmp_path, fake_server):
    from textual.widgets._toast import Toast

    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        screen, _, composer = parts(app)
        composer.text = "half-typed 日本語"
        app.notify("A notice with a fairly long text that takes some room")
        await wait_for(pilot, lambda: bool(screen.query(Toast)))
        await pilot.pause()
        toast = screen.query_one(Toast)
        assert toast.region.height > 0
        assert not toast.region.overlaps(composer.region)
        assert toast.region.y < screen.query_one("#transcript").region.bottom
