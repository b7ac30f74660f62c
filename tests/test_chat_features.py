"""Versions, slash commands as you type, /system, and imported threads, in the real app."""

from __future__ import annotations

from apphelpers import make_app, peek, wait_for
from fake_openai import Reply
from tuichat.core.models import DONE, SUPERSEDED
from tuichat.store import Store
from tuichat.ui.screens.chat import ChatScreen


def chat(app) -> ChatScreen:
    assert isinstance(app.screen, ChatScreen)
    return app.screen


async def send(pilot, text: str) -> None:
    pilot.app.screen.composer.text = text
    await pilot.press("enter")


async def test_regenerated_replies_flip_with_alt_arrows_and_the_shown_one_is_sent(tmp_path, fake_server):
    fake_server.script(Reply.text("answer A"), Reply.text("answer B"), Reply.text("next"))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat(app)
        await send(pilot, "question")
        await wait_for(pilot, lambda: not screen.generating and "answer A" in screen.transcript.all_text())
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "answer B" in screen.transcript.all_text())
        await wait_for(pilot, lambda: not screen.generating)
        await wait_for(pilot, lambda: "‹ 2/2 ›" in screen.transcript.all_text())
        assert "answer A" not in screen.transcript.all_text()  # an earlier version, not shown
        await pilot.press("alt+left")
        await wait_for(pilot, lambda: "‹ 1/2 ›" in screen.transcript.all_text())
        assert "answer A" in screen.transcript.all_text() and "answer B" not in screen.transcript.all_text()
        rows = peek(app).messages(screen.thread.id)
        assert [(m.content, m.status) for m in rows if m.role == "assistant"] == [
            ("answer A", DONE), ("answer B", SUPERSEDED)]
        await send(pilot, "go on")
        await wait_for(pilot, lambda: not screen.generating and "next" in screen.transcript.all_text())
        sent = [m["content"] for m in fake_server.chat_requests[-1].json["messages"] if m["role"] == "assistant"]
        assert sent == ["answer A"]


async def test_typing_a_slash_opens_the_menu_and_enter_completes(tmp_path, fake_server):
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = chat(app)
        menu = screen.slash_menu
        await pilot.press("slash")
        await wait_for(pilot, lambda: menu.display)
        await pilot.press("s", "y")
        await wait_for(pilot, lambda: menu.completion() == "/system ")
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.composer.text == "/system ")
        assert fake_server.chat_requests == []
        await pilot.press("escape")  # closes the menu, nothing else
        await wait_for(pilot, lambda: not menu.display)
        assert screen.composer.text == "/system "


async def test_system_shows_and_sets_the_threads_prompt(tmp_path, fake_server):
    fake_server.script(Reply.text("ok"))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat(app)
        persona_prompt = screen.persona.system_prompt
        await send(pilot, "/system")
        await wait_for(pilot, lambda: "System prompt" in screen.transcript.all_text())
        assert persona_prompt.split("\n")[0][:30] in screen.transcript.all_text()
        await send(pilot, "/system Speak like a pirate.")
        await wait_for(pilot, lambda: "System prompt set" in screen.transcript.all_text())
        await send(pilot, "hello")
        await wait_for(pilot, lambda: not screen.generating and len(fake_server.chat_requests) == 1)
        first = fake_server.chat_requests[0].json["messages"][0]
        assert first == {"role": "system", "content": "Speak like a pirate."}
        assert peek(app).get_thread(screen.thread.id).system_prompt == "Speak like a pirate."


async def test_an_imported_thread_sends_the_configured_model_and_keeps_the_label(tmp_path, fake_server):
    store = Store(tmp_path / "tuichat.db")
    thread = store.create_thread("default", "")
    store.add_message(thread.id, "user", "old question")
    store.add_message(thread.id, "assistant", "old answer", model="chatgpt-4o")
    fake_server.script(Reply.text("new answer"))
    app = make_app(tmp_path, fake_server.base_url, store=store, thread=store.get_thread(thread.id))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat(app)
        await wait_for(pilot, lambda: "old answer" in screen.transcript.all_text())
        assert "chatgpt-4o" in screen.transcript.all_text()
        await send(pilot, "new question")
        await wait_for(pilot, lambda: not screen.generating and "new answer" in screen.transcript.all_text())
        assert fake_server.chat_requests[-1].json["model"] == "test-model"
