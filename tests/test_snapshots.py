"""Snapshots of every screen state (pytest-textual-snapshot), at 120x40, 80x24 and 40x12
where size matters. The app is built by the same factory the CLI uses (apphelpers.make_app
goes through it). Threads come from the database where they can; a live state (a reply
mid-stream, an error) comes from the fake server, and the picture is taken once the app
has shown it. A changed snapshot is reviewed as an image, never accepted blindly."""

from __future__ import annotations

import pytest

from apphelpers import make_app, wait_for
from fake_openai import Reply
from tuichat.store import Store

NO_SERVER = "http://127.0.0.1:9/v1"  # shown in the status line; never contacted here
SIZES = [(120, 40), (80, 24), (40, 12)]
SIZE_IDS = ["120x40", "80x24", "40x12"]

REPLY_JA = """\
## 東京の一日 🗼

朝は**築地**で朝ごはん、午後は上野の美術館へ。

- 朝: 寿司と味噌汁 🍣
- 昼: 上野公園を散歩
- 夜: ラーメン

| 時間 | 場所 |
|------|------|
| 9:00 | 築地 |
| 14:00 | 上野 |

```python
print("こんにちは、世界")
```
"""


def seeded_store(tmp_path) -> Store:
    store = Store(tmp_path / "tuichat.db")
    other = store.create_thread("diary", "test-model")
    store.add_message(other.id, "user", "Morning: ran 5k. Afternoon: read a book.")
    store.add_message(other.id, "assistant", "Dear diary, today began with a run.")
    thread = store.create_thread("ojousama", "test-model")
    store.add_message(thread.id, "user", "東京で一日過ごすならどうしますか？")
    store.add_message(thread.id, "assistant", REPLY_JA)
    store.add_message(thread.id, "user", "Then what about the evening?")
    reply = store.add_message(thread.id, "assistant", "In the evening, わたくしは", status="streaming")
    store.update_message(reply.id, status="stopped")
    return store


def ready(*conditions, keys: tuple[str, ...] = (), then=()):
    """A run_before: wait for the first screen's reads (snap_compare runs the app without
    apphelpers' run_test, which would), and for `conditions`; press `keys`; then wait for
    `then`: until the app shows what the snapshot is about."""

    async def until(pilot, checks) -> None:
        for check in checks:
            await wait_for(pilot, lambda check=check: check(pilot.app), timeout=20)

    async def run_before(pilot) -> None:
        chat = pilot.app.screen
        await wait_for(pilot, lambda: getattr(chat, "ready", False), timeout=20)
        # A steady cursor: on a busy machine a run may take long enough for it to blink
        # off before the picture is taken.
        chat.composer.cursor_blink = False
        await until(pilot, conditions)
        await pilot.pause()
        if keys:
            await pilot.press(*keys)
        await until(pilot, then)
        await pilot.pause()

    return run_before


def shows(text: str):
    return lambda app: text in app.screen.transcript.all_text()


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_new_thread(snap_compare, tmp_path, size):
    app = make_app(tmp_path, NO_SERVER, store=seeded_store(tmp_path), persona="ojousama")
    assert snap_compare(app, terminal_size=size, run_before=ready())


def shown_as_fake_server(app) -> None:
    """The status line names the start server "fake-server": the fake's port differs per
    run. The label only; requests still go to the fake server."""
    from tuichat.cli.main import server_pool
    from tuichat.servers import default_server

    app.settings.base_url = "http://fake-server/v1"
    app.ws.servers = server_pool(app.settings, default_server(app.settings))


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_japanese_thread_with_a_stopped_reply(snap_compare, tmp_path, size):
    store = seeded_store(tmp_path)
    app = make_app(tmp_path, NO_SERVER, store=store, thread=store.latest_thread())
    assert snap_compare(app, terminal_size=size, run_before=ready(shows("stopped")))


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_streaming_mid_reply(snap_compare, tmp_path, fake_server, size):
    fake_server.script(Reply(chunks=["Here is ", "the first part ", "of the answer"], stall_after=3))
    app = make_app(tmp_path, fake_server.base_url)
    shown_as_fake_server(app)

    async def run_before(pilot) -> None:
        await ready()(pilot)
        pilot.app.screen.composer.text = "Tell me something"
        await pilot.press("enter")
        await ready(lambda app: app.screen.transcript.reply_text.endswith("of the answer"),
                    # The thread list has re-read the new thread and marks it live.
                    lambda app: app.screen.thread_list.option_count == 1
                    and app.screen.thread.id in app.screen.thread_list.live
                    and "●" in str(app.screen.thread_list.get_option_at_index(0).prompt))(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_slash_menu(snap_compare, tmp_path, size):
    app = make_app(tmp_path, NO_SERVER)
    assert snap_compare(app, terminal_size=size, run_before=ready(keys=("slash",), then=[lambda app: app.screen.slash_menu.display]))


def test_slash_menu_filtered(snap_compare, tmp_path):
    app = make_app(tmp_path, NO_SERVER)
    assert snap_compare(app, terminal_size=(80, 24), run_before=ready(keys=("slash", "s"), then=[lambda app: app.screen.slash_menu.option_count == 2]))


def test_error_reply(snap_compare, tmp_path, fake_server):
    fake_server.script(Reply.error(500, "The model is overloaded, try again later"))
    app = make_app(tmp_path, fake_server.base_url)
    shown_as_fake_server(app)

    async def run_before(pilot) -> None:
        await ready()(pilot)
        pilot.app.screen.composer.text = "hello"
        await pilot.press("enter")
        await ready(shows("F5 retries"), lambda app: not app.screen.generating)(pilot)
        pilot.app.clear_notifications()  # the toast says it too; the picture is the reply

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_reasoning_and_a_cut_off_reply(snap_compare, tmp_path):
    store = Store(tmp_path / "tuichat.db")
    thread = store.create_thread("default", "test-model")
    store.add_message(thread.id, "user", "Why is the sky blue?")
    reply = store.add_message(thread.id, "assistant", "Because of Rayleigh scattering: shorter", status="streaming")
    store.update_message(reply.id, reasoning="Blue light scatters more than red.\nSo the sky looks blue.",
                         status="done", finish_reason="length")
    app = make_app(tmp_path, NO_SERVER, store=store, thread=thread)
    assert snap_compare(app, terminal_size=(80, 24), run_before=ready(shows("cut off")))


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_tokens_and_speed_under_each_reply(snap_compare, tmp_path, size):
    from tuichat.core.models import Usage

    store = Store(tmp_path / "tuichat.db")
    thread = store.create_thread("default", "test-model")
    for question, answer, usage, first, total in [
        ("What is 2+2?", "Four.", Usage(1234, 567, 1801), 820, 13420),
        ("And 3+3, from a server that counts nothing?", "Six.", Usage(40, 2, 42, estimated=True), 150, 400),
    ]:
        store.add_message(thread.id, "user", question)
        reply = store.add_message(thread.id, "assistant", "", status="streaming", lease="snap")
        store.finish_message(reply.id, "snap", content=answer, reasoning="", status="done", usage=usage,
                             first_token_ms=first, duration_ms=total)
    app = make_app(tmp_path, NO_SERVER, store=store, thread=thread)
    assert snap_compare(app, terminal_size=size, run_before=ready(shows("first token")))


def test_versions_of_a_regenerated_reply(snap_compare, tmp_path):
    store = Store(tmp_path / "tuichat.db")
    thread = store.create_thread("default", "test-model")
    store.add_message(thread.id, "user", "Name a colour")
    first = store.add_message(thread.id, "assistant", "Red.")
    store.supersede(first.id)
    second = store.add_message(thread.id, "assistant", "Blue.")
    store.supersede(second.id)
    store.add_message(thread.id, "assistant", "Green, the colour of leaves.")
    app = make_app(tmp_path, NO_SERVER, store=store, thread=thread)
    assert snap_compare(app, terminal_size=(80, 24), run_before=ready(shows("‹ 3/3 ›")))


def test_search_results(snap_compare, tmp_path):
    app = make_app(tmp_path, NO_SERVER, store=seeded_store(tmp_path))
    assert snap_compare(app, terminal_size=(120, 40), run_before=ready(keys=("ctrl+f", *"築地"), then=[lambda app: getattr(app.screen, "hits", None)]))


def test_search_results_small(snap_compare, tmp_path):
    app = make_app(tmp_path, NO_SERVER, store=seeded_store(tmp_path))
    assert snap_compare(app, terminal_size=(40, 12), run_before=ready(keys=("ctrl+f", *"diary"), then=[lambda app: getattr(app.screen, "hits", None)]))


def test_persona_picker(snap_compare, tmp_path):
    app = make_app(tmp_path, NO_SERVER)
    assert snap_compare(app, terminal_size=(80, 24), run_before=ready(keys=("ctrl+n",)))


def test_model_picker(snap_compare, tmp_path):
    app = make_app(tmp_path, NO_SERVER, api_key="")  # no key: the server is not asked
    assert snap_compare(app, terminal_size=(80, 24), run_before=ready(keys=("f4",)))


def test_code_picker(snap_compare, tmp_path):
    store = Store(tmp_path / "tuichat.db")
    thread = store.create_thread("default", "test-model")
    store.add_message(thread.id, "user", "Two snippets please")
    store.add_message(thread.id, "assistant", "```python\nprint('one')\n```\n\n```sh\necho two\n```\n")
    app = make_app(tmp_path, NO_SERVER, store=store, thread=thread)
    assert snap_compare(app, terminal_size=(80, 24), run_before=ready(shows("echo two"), keys=("ctrl+up", "k", "y")))


def test_help_screen(snap_compare, tmp_path):
    app = make_app(tmp_path, NO_SERVER)
    assert snap_compare(app, terminal_size=(80, 24), run_before=ready(keys=("f1",)))


def test_thread_list_over_a_narrow_chat(snap_compare, tmp_path):
    app = make_app(tmp_path, NO_SERVER, store=seeded_store(tmp_path))
    assert snap_compare(app, terminal_size=(80, 24), run_before=ready(keys=("ctrl+t",)))


def test_thread_list_hidden_at_full_width(snap_compare, tmp_path):
    app = make_app(tmp_path, NO_SERVER, store=seeded_store(tmp_path))
    assert snap_compare(app, terminal_size=(120, 40), run_before=ready(keys=("f9",)))


def test_delete_confirmation(snap_compare, tmp_path):
    store = seeded_store(tmp_path)
    app = make_app(tmp_path, NO_SERVER, store=store, thread=store.latest_thread())
    assert snap_compare(app, terminal_size=(80, 24), run_before=ready(shows("stopped"), keys=("f8",)))


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_context_cut_marker(snap_compare, tmp_path, fake_server, size):
    """A thread longer than the context: the marker where the messages sent begin."""
    store = Store(tmp_path / "tuichat.db")
    thread = store.create_thread("default", "test-model")
    for i in range(3):
        store.add_message(thread.id, "user", f"Old question {i}: " + "tell me more " * 120)
        store.add_message(thread.id, "assistant", f"Old answer {i}: " + "there is more " * 120)
    store.add_message(thread.id, "user", "Short question")
    store.add_message(thread.id, "assistant", "Short answer")
    fake_server.script(Reply.text("Here it is."))
    app = make_app(tmp_path, fake_server.base_url, store=store, thread=thread)
    shown_as_fake_server(app)
    app.ws.context_window = 1200
    app.ws.session._clock = lambda: 0.0  # the line under the reply shows no run-dependent timing

    async def run_before(pilot) -> None:
        await ready(shows("Short answer"))(pilot)
        screen = pilot.app.screen
        screen.composer.text = "And now?"
        await pilot.press("enter")
        await ready(lambda app: app.screen.transcript.cut_marker is not None and not app.screen.generating
                    and "Here it is." in app.screen.transcript.all_text(),
                    # The thread list has re-read the thread the send touched.
                    lambda app: app.screen.thread_list.option_count == 1
                    and not app.screen.thread_list.live)(pilot)
        transcript = screen.transcript
        index = next(i for i, entry in enumerate(transcript._entries) if entry.cut_above)
        transcript._show_entry(index)  # the marker at the top of the view
        pilot.app.clear_notifications()  # the toast saying so would cover it
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_compacted_thread(snap_compare, tmp_path, size):
    """A /compact summary in force, shown after the messages it stands for."""
    store = Store(tmp_path / "tuichat.db")
    thread = store.create_thread("default", "test-model")
    first = store.add_message(thread.id, "user", "What is a context window?")
    answer = store.add_message(thread.id, "assistant", "The tokens a model can read at once.")
    store.add_message(thread.id, "user", "And 日本語?")
    store.add_message(thread.id, "assistant", "日本語は一文字が一トークン前後です。")
    store.add_message(thread.id, "assistant", "The user asked what a context window is (the tokens a model "
                      "reads at once) and how Japanese counts.", summary_of=answer.id)
    assert first.id < answer.id
    app = make_app(tmp_path, NO_SERVER, store=store, thread=thread)
    assert snap_compare(app, terminal_size=size, run_before=ready(shows("sent in place of"), shows("┄┄ the messages above")))
