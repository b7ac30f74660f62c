"""Regenerate (Ctrl+G) and edit-and-resend (Up in an empty composer, F3), in the real app."""

from __future__ import annotations

from apphelpers import make_app, peek, wait_for
from fake_openai import Reply
from tuichat.core.models import DONE, SUPERSEDED
from tuichat.ui.screens.chat import ChatScreen
from tuichat.ui.widgets.composer import Composer
from tuichat.ui.widgets.transcript import Transcript


def parts(app):
    screen = app.screen
    assert isinstance(screen, ChatScreen)
    return screen, screen.query_one(Transcript), screen.query_one(Composer)


def record(app, monkeypatch) -> list[str]:
    """Notifications and bells, in order, as plain strings."""
    seen: list[str] = []
    notify, bell = app.notify, app.bell

    def recording_notify(message, *args, **kwargs):
        seen.append(str(message))
        return notify(message, *args, **kwargs)

    def recording_bell():
        seen.append("BELL")
        return bell()

    monkeypatch.setattr(app, "notify", recording_notify)
    monkeypatch.setattr(app, "bell", recording_bell)
    return seen


async def send(pilot, text: str) -> None:
    screen, _, composer = parts(pilot.app)
    composer.text = text
    await pilot.press("enter")
    await wait_for(pilot, lambda: not screen.generating and screen.thread is not None)


def rows(app, screen):
    return [(m.role, m.content, m.status) for m in peek(app).messages(screen.thread.id)]


def sent_contents(request) -> list[str]:
    return [m["content"] for m in request.json["messages"]]


async def test_regenerate_keeps_the_old_reply_superseded_and_does_not_send_it(tmp_path, fake_server):
    fake_server.script(Reply.text("the first answer"), Reply.text("a better answer"))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, transcript, _ = parts(app)
        await send(pilot, "question")
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: len(fake_server.chat_requests) == 2 and not screen.generating)
        assert rows(app, screen) == [
            ("user", "question", DONE),
            ("assistant", "the first answer", SUPERSEDED),
            ("assistant", "a better answer", DONE),
        ]
        regen = fake_server.chat_requests[-1]
        assert sent_contents(regen)[-1] == "question"
        assert not any("the first answer" in c for c in sent_contents(regen))
        await wait_for(pilot, lambda: "a better answer" in transcript.all_text())
        await wait_for(pilot, lambda: "‹ 2/2 ›" in transcript.all_text())
        text = transcript.all_text()
        # The earlier version is kept, one key away (Alt+Left), not shown beside the new one.
        assert "the first answer" not in text
        # The new reply's header names the model that wrote it.
        assert "Assistant · test-model" in text


async def test_regenerate_is_refused_while_generating(tmp_path, fake_server, monkeypatch):
    fake_server.script(Reply(chunks=["slow ", "reply"], stall_after=1))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, transcript, composer = parts(app)
        seen = record(app, monkeypatch)
        composer.text = "first"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "slow" in transcript.all_text())
        await pilot.press("ctrl+g")
        # The refusal (bell and notice) is what a regenerate would have raced.
        await wait_for(pilot, lambda: "BELL" in seen)
        assert "BELL" in seen and any("still generating" in s for s in seen)
        assert len(fake_server.chat_requests) == 1
        assert all(m.status != SUPERSEDED for m in peek(app).messages(screen.thread.id))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen.generating)


async def test_regenerate_with_nothing_sent_says_so(tmp_path, fake_server, monkeypatch):
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        seen = record(app, monkeypatch)
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert any("Nothing to regenerate" in s for s in seen)
        assert fake_server.chat_requests == []


async def test_up_in_an_empty_composer_edits_and_resends_the_last_message(tmp_path, fake_server):
    fake_server.script("answer one", "answer to the typo", "answer to the fix")
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, transcript, composer = parts(app)
        await send(pilot, "first question")
        await send(pilot, "secnd question 日本語")
        await pilot.press("up")
        assert composer.text == "secnd question 日本語"
        assert "editing" in screen.status_text()
        # Said where the user is looking, on the composer's border (a toast would cover it).
        assert "Editing your last message" in str(composer.border_title)
        composer.text = "second question 日本語"
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(fake_server.chat_requests) == 3 and not screen.generating)
        assert not composer.border_title
        assert rows(app, screen) == [
            ("user", "first question", DONE),
            ("assistant", "answer one", DONE),
            ("user", "secnd question 日本語", SUPERSEDED),
            ("assistant", "answer to the typo", SUPERSEDED),
            ("user", "second question 日本語", DONE),
            ("assistant", "answer to the fix", DONE),
        ]
        assert sent_contents(fake_server.chat_requests[-1])[1:] == [
            "first question", "answer one", "second question 日本語",
        ]
        assert composer.text == ""
        await wait_for(pilot, lambda: "answer to the fix" in transcript.all_text())
        await wait_for(pilot, lambda: "‹ 2/2 ›" in transcript.all_text())
        assert "secnd question" not in transcript.all_text()
        # The version before the edit, prompt and reply, is one key away, and back.
        await pilot.press("alt+left")
        await wait_for(pilot, lambda: "‹ 1/2 ›" in transcript.all_text())
        assert "secnd question" in transcript.all_text() and "answer to the typo" in transcript.all_text()
        await pilot.press("alt+right")
        await wait_for(pilot, lambda: "answer to the fix" in transcript.all_text())
        # Editing is over: the next message is a new one.
        await send(pilot, "third")
        assert [c for r, c, s in rows(app, screen) if r == "user" and s == DONE][-1] == "third"
        assert len([1 for *_, s in rows(app, screen) if s == SUPERSEDED]) == 2


async def test_edit_never_overwrites_a_draft(tmp_path, fake_server, monkeypatch):
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, _, composer = parts(app)
        await send(pilot, "sent message")
        seen = record(app, monkeypatch)
        composer.text = "line one\nline two of my draft"
        await pilot.press("up")  # in a draft, Up just moves the cursor
        assert composer.text == "line one\nline two of my draft"
        assert composer.cursor_location[0] == 0
        await pilot.press("f3")  # the explicit key refuses, and says why
        await pilot.pause()
        assert composer.text == "line one\nline two of my draft"
        assert "BELL" in seen and any("draft" in s for s in seen)
        assert screen.conv.editing is None


async def test_escape_cancels_an_edit_and_keeps_changed_text(tmp_path, fake_server):
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, _, composer = parts(app)
        await send(pilot, "original")
        await pilot.press("up")
        assert screen.conv.editing is not None
        await pilot.press("escape")  # untouched text: simply gone again
        assert screen.conv.editing is None and composer.text == "" and not composer.border_title
        await pilot.press("up")
        composer.text = "original, but changed"
        await pilot.press("escape")  # changed text is the user's: it stays
        assert screen.conv.editing is None and composer.text == "original, but changed"
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(fake_server.chat_requests) == 2 and not screen.generating)
        assert [(r, c) for r, c, s in rows(app, screen) if s == SUPERSEDED] == []


async def test_edit_is_refused_while_generating(tmp_path, fake_server, monkeypatch):
    fake_server.script("done", Reply(chunks=["slow ", "reply"], stall_after=1))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, transcript, composer = parts(app)
        await send(pilot, "one")
        composer.text = "two"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "slow" in transcript.all_text())
        seen = record(app, monkeypatch)
        await pilot.press("f3")
        await wait_for(pilot, lambda: "BELL" in seen)
        assert "BELL" in seen and any("still generating" in s for s in seen)
        assert composer.text == "" and screen.conv.editing is None
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen.generating)
