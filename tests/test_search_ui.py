"""Searching every thread (Ctrl+F) and jumping to a hit, through the real app."""

from __future__ import annotations

import time

import pytest
from rich.text import Text
from textual.widgets import Input

from apphelpers import make_app, wait_for
from tuichat.store import Store
from tuichat.ui.screens.chat import ChatScreen
from tuichat.ui.screens.search import SearchResults, SearchScreen

SIZE = (110, 36)
# A fixed clock: every message is stamped on the same, known day.
STAMP = 1_750_000_000.0
DAY = time.strftime("%Y-%m-%d", time.localtime(STAMP))


def seeded_store(tmp_path) -> tuple[Store, dict[str, int]]:
    """Three threads: English, Japanese, and a 300-message one with a rare word near the
    start. Returns the store and the thread ids by name."""
    store = Store(tmp_path / "tuichat.db", clock=lambda: STAMP)
    ids = {}
    english = store.create_thread("default", "test-model")
    store.add_message(english.id, "user", "What is the weather in Tokyo?")
    store.add_message(english.id, "assistant", "Tokyo is sunny today. In tokyo, summers are humid.")
    ids["english"] = english.id
    japanese = store.create_thread("default", "test-model")
    store.add_message(japanese.id, "user", "東京の天気は？")
    store.add_message(japanese.id, "assistant", "東京は晴れです。東京タワーからの眺めも良いです。")
    ids["japanese"] = japanese.id
    long = store.create_thread("default", "test-model", title="A long one")
    for i in range(300):
        role = "user" if i % 2 == 0 else "assistant"
        text = f"filler message {i} " + "blah " * (i % 7)
        if i == 4:
            text = "The secret word is xylophone, said message four."
        store.add_message(long.id, role, text)
    ids["long"] = long.id
    return store, ids


def chat(app) -> ChatScreen:
    screen = app.screen_stack[0]  # the chat screen is the default screen, under any other
    assert isinstance(screen, ChatScreen)
    return screen


async def open_search(pilot) -> SearchScreen:
    await pilot.press("ctrl+f")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, SearchScreen))
    return pilot.app.screen


async def search_for(pilot, query: str) -> SearchScreen:
    """Type `query` into the search box and wait for the list to show its results."""
    screen = await open_search(pilot)
    await pilot.press(*query)
    await wait_for(pilot, lambda: screen.shown_query == query)
    await pilot.pause()
    return screen


def prompts(screen: SearchScreen) -> list[Text]:
    results = screen.query_one(SearchResults)
    return [results.get_option_at_index(i).prompt for i in range(results.option_count)]


def highlighted(label: Text) -> list[str]:
    """The pieces of `label` that carry a match highlight (an underline)."""
    return [label.plain[span.start:span.end] for span in label.spans
            if getattr(span.style, "underline", False)]


async def test_english_search_lists_title_date_role_and_highlights_every_match(tmp_path, fake_server):
    store, _ = seeded_store(tmp_path)
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await search_for(pilot, "tokyo")
        labels = prompts(screen)
        assert len(labels) == 2  # the prompt and the reply; newest first
        reply, prompt = labels
        first_line, snippet = reply.plain.split("\n")
        assert first_line == f"What is the weather in Tokyo?  {DAY}  Assistant"
        assert snippet == "Tokyo is sunny today. In tokyo, summers are humid."
        assert highlighted(reply) == ["Tokyo", "tokyo"]  # both cases, each highlighted
        assert prompt.plain.split("\n")[0].endswith(f"{DAY}  You")
        assert highlighted(prompt) == ["Tokyo"]
        status = str(screen.query_one("#search-status").render())
        assert "2 messages" in status


async def test_two_character_japanese_query(tmp_path, fake_server):
    store, _ = seeded_store(tmp_path)
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await search_for(pilot, "東京")
        labels = prompts(screen)
        assert len(labels) == 2
        assert labels[0].plain.split("\n")[1] == "東京は晴れです。東京タワーからの眺めも良いです。"
        assert highlighted(labels[0]) == ["東京", "東京"]
        # Wide characters take two cells each: the snippet is drawn whole, inside the list.
        results = screen.query_one(SearchResults)
        drawn = [results.render_line(y) for y in range(results.size.height)]
        line = next(strip for strip in drawn if "東京タワー" in strip.text)
        assert "東京は晴れです。東京タワーからの眺めも良いです。" in line.text
        assert line.cell_length == results.size.width


async def test_long_query_needs_every_word_and_results_follow_the_typing(tmp_path, fake_server):
    store, _ = seeded_store(tmp_path)
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await search_for(pilot, "tokyo")
        assert len(prompts(screen)) == 2
        await pilot.press(*" summers are humid")
        await wait_for(pilot, lambda: screen.shown_query == "tokyo summers are humid")
        labels = prompts(screen)
        assert len(labels) == 1
        assert highlighted(labels[0]) == ["Tokyo", "tokyo", "summers", "are", "humid"]
        await pilot.press(*" nowhere")
        await wait_for(pilot, lambda: screen.shown_query.endswith("nowhere"))
        assert prompts(screen) == []
        status = str(screen.query_one("#search-status").render())
        assert status == "No messages match “tokyo summers are humid nowhere”."


async def test_typing_fast_runs_one_query_in_a_worker_thread(tmp_path, fake_server, monkeypatch):
    import threading

    store, _ = seeded_store(tmp_path)
    queries: list[str] = []
    threads: set[int] = set()
    search_page = Store.search_page

    def spy(self, query, *args, **kwargs):  # type: ignore[no-untyped-def]
        queries.append(query)
        threads.add(threading.get_ident())
        return search_page(self, query, *args, **kwargs)

    monkeypatch.setattr(Store, "search_page", spy)
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await search_for(pilot, "xylophone")
        assert queries == ["xylophone"]  # not one query per keystroke
        assert threads and threading.get_ident() not in threads  # the UI never waits on it
        assert len(prompts(screen)) == 1


async def test_one_connection_serves_every_search_and_closes_with_the_screen(
    tmp_path, fake_server, monkeypatch
):
    store, _ = seeded_store(tmp_path)
    opened: list[Store] = []
    closed: list[Store] = []
    init, close = Store.__init__, Store.close

    def spy_init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        init(self, *args, **kwargs)
        opened.append(self)

    def spy_close(self):  # type: ignore[no-untyped-def]
        closed.append(self)
        close(self)

    monkeypatch.setattr(Store, "__init__", spy_init)
    monkeypatch.setattr(Store, "close", spy_close)
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        before = len(opened)
        screen = await search_for(pilot, "tokyo")
        for query in (" summers", " are"):
            await pilot.press(*query)
            await wait_for(pilot, lambda: screen.shown_query.endswith(query))
        assert screen.shown_query == "tokyo summers are"
        assert len(prompts(screen)) == 1
        (searcher,) = opened[before:]  # three searches, one connection
        assert searcher not in closed
        await pilot.press("escape")
        await wait_for(pilot, lambda: searcher in closed)


async def test_titles_and_snippets_are_never_markup(tmp_path, fake_server):
    store = Store(tmp_path / "tuichat.db", clock=lambda: STAMP)
    thread = store.create_thread("default", "test-model", title="[bold red]not markup[/]")
    store.add_message(thread.id, "user", "look: [link=x]markup[/link] \x1b[31mred")
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await search_for(pilot, "markup")
        (label,) = prompts(screen)
        assert label.plain.startswith("[bold red]not markup[/]")
        assert "[link=x]markup[/link] ␛[31mred" in label.plain
        assert highlighted(label) == ["markup"]  # the snippet's match; the title is plain


async def test_enter_opens_the_thread_scrolled_to_the_message(tmp_path, fake_server):
    store, ids = seeded_store(tmp_path)
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(app)
        # Opened normally, a 300-message thread shows its end, not message four.
        await screen.open_thread(ids["long"])
        await pilot.pause(0.1)
        assert "xylophone" not in screen.transcript.visible_text()
        await screen.open_thread(ids["english"])
        await pilot.pause(0.1)

        await search_for(pilot, "xylophone")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.pause(0.1)
        transcript = screen.transcript
        assert screen.thread is not None and screen.thread.id == ids["long"]
        assert "The secret word is xylophone, said message four." in transcript.visible_text()
        assert transcript.cursor == 4  # highlighted: c would copy it
        assert app.focused is transcript
        assert sum(1 for entry in transcript._entries if entry.width) < 60  # not all 300


async def test_down_then_enter_opens_the_second_hit_and_click_works_too(tmp_path, fake_server):
    store, ids = seeded_store(tmp_path)
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(app)
        await search_for(pilot, "東京")
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.pause(0.1)
        assert screen.thread.id == ids["japanese"]
        assert screen.transcript.cursor == 0  # the second hit (newest first) is the prompt

        await search_for(pilot, "tokyo")
        await pilot.click(SearchResults, offset=(4, 1))  # inside the border: the first hit
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.pause(0.1)
        assert screen.thread.id == ids["english"]
        assert screen.transcript.cursor == 1  # the first hit: the reply


async def test_escape_closes_and_keeps_the_thread(tmp_path, fake_server):
    store, ids = seeded_store(tmp_path)
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(app)
        await screen.open_thread(ids["japanese"])
        await search_for(pilot, "xylophone")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        assert screen.thread.id == ids["japanese"]
        assert app.focused is screen.composer


async def test_enter_right_after_typing_opens_the_first_hit(tmp_path, fake_server):
    store, ids = seeded_store(tmp_path)
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(app)
        await open_search(pilot)
        await pilot.press(*"xylophone", "enter")  # well within the debounce
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.pause(0.1)
        assert screen.thread.id == ids["long"]
        assert "xylophone" in screen.transcript.visible_text()


async def test_empty_box_and_enter_with_no_results_do_nothing(tmp_path, fake_server):
    store, _ = seeded_store(tmp_path)
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_search(pilot)
        await pilot.pause(0.2)
        assert "Type to search" in str(screen.query_one("#search-status").render())
        await pilot.press(*"qqqq", "enter")  # Enter before the debounce: searched at once
        await wait_for(pilot, lambda: screen.shown_query == "qqqq")
        await pilot.pause()
        assert app.screen is screen  # nothing to open
        assert screen.query_one(Input).value == "qqqq"
        assert "No messages match “qqqq”." in str(screen.query_one("#search-status").render())


async def test_search_key_can_be_remapped(tmp_path, fake_server):
    store, ids = seeded_store(tmp_path)
    app = make_app(tmp_path, fake_server.base_url, store=store, keymap={"search": "f3"})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+f")
        await pilot.pause()
        assert isinstance(app.screen, ChatScreen)
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen))


async def test_jumping_within_the_thread_being_answered_keeps_the_reply_going(tmp_path, fake_server):
    from fake_openai import Reply

    fake_server.script(Reply(chunks=["still ", "streaming"], stall_after=1))
    store, ids = seeded_store(tmp_path)
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(app)
        await screen.open_thread(ids["long"])
        screen.composer.focus()
        screen.composer.text = "one more question"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "still" in screen.transcript.reply_text)
        await search_for(pilot, "xylophone")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.pause(0.1)
        assert screen.generating  # not stopped, not reloaded
        assert "xylophone" in screen.transcript.visible_text()
        assert "still" not in screen.transcript.visible_text()  # the view stays put
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen.generating)


# Long searches, page by page (a short term with no index reads every message)

DAY_S = 86_400.0


def spread_store(tmp_path) -> tuple[Store, dict[int, int]]:
    """One thread of 400 messages, a day apart; "qz" in three of them (near the newest,
    the middle and the oldest), "wv" in two others. Returns the store and message ids by
    position."""
    ticks = iter(range(10_000))
    store = Store(tmp_path / "tuichat.db", clock=lambda: STAMP + next(ticks) * DAY_S)
    thread = store.create_thread("default", "test-model", title="Spread out")
    words = {395: "qz", 200: "qz", 20: "qz", 300: "wv", 100: "wv"}
    ids = {}
    for i in range(400):
        text = f"note {i}" + (f" mentions {words[i]} here" if i in words else "")
        ids[i] = store.add_message(thread.id, ("user", "assistant")[i % 2], text).id
    return store, ids


@pytest.fixture
def tiny_pages(monkeypatch):
    """Every page searches one window of 50 messages: 400 messages take 8 pages."""
    from tuichat.store import search as store_search
    from tuichat.ui.screens import search as search_screen

    monkeypatch.setattr(search_screen, "PAGE_BUDGET_S", 0.0)
    for name in ("FIRST_WINDOW", "MAX_WINDOW", "INDEX_FIRST_WINDOW", "INDEX_MAX_WINDOW"):
        monkeypatch.setattr(store_search, name, 50)
    monkeypatch.setattr(store_search, "MIN_WINDOW", 1)


def record_listings(monkeypatch) -> list[dict]:
    """After every show_results: the ids listed, the status and the progress line."""
    listings: list[dict] = []
    show_results = SearchScreen.show_results

    def spy(self, query, result, **kwargs):  # type: ignore[no-untyped-def]
        show_results(self, query, result, **kwargs)
        listings.append({
            "value": self.query_input.value,
            "ids": [hit.message_id for hit in self.hits],
            "options": self.results.option_count,
            "status": str(self.query_one("#search-status").render()),
            "progress": str(self.progress.render()) if self.progress.display else "",
        })

    monkeypatch.setattr(SearchScreen, "show_results", spy)
    return listings


def slow_pages(monkeypatch, seconds: float) -> list[tuple[str, int | None]]:
    """Make every Store.search_page take `seconds` longer; returns its calls."""
    calls: list[tuple[str, int | None]] = []
    search_page = Store.search_page

    def spy(self, query, limit=50, before=None, budget_s=None):  # type: ignore[no-untyped-def]
        calls.append((query, before[1] if before else None))
        time.sleep(seconds)
        return search_page(self, query, limit, before, budget_s)

    monkeypatch.setattr(Store, "search_page", spy)
    return calls


def day_of(store: Store, message_id: int) -> str:
    (created,) = store._conn.execute(
        "SELECT created_at FROM messages WHERE id = ?", (message_id,)
    ).fetchone()
    return time.strftime("%Y-%m-%d", time.localtime(created))


async def test_a_long_search_lists_the_first_hits_then_older_ones_then_says_it_is_done(
    tmp_path, fake_server, tiny_pages, monkeypatch
):
    store, ids = spread_store(tmp_path)
    listings = record_listings(monkeypatch)
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_search(pilot)
        await pilot.press("q", "z")
        await wait_for(pilot, lambda: listings and listings[-1]["progress"] == "Searched all messages")
        await pilot.pause()
        qz = [entry for entry in listings if entry["value"] == "qz"]

        first = qz[0]  # the newest 50 messages: one hit, and more to search
        assert first["ids"] == [ids[395]]
        assert first["status"] == "1 message so far"
        assert first["progress"] == (
            f"Searched back to {day_of(store, ids[350])}… searching older messages"
        )
        # Later pages only add to the list, oldest last, while saying how far back it got.
        assert any(entry["ids"] == [ids[395], ids[200]] for entry in qz)
        for before, after in zip(qz, qz[1:]):
            assert after["ids"][: len(before["ids"])] == before["ids"]
        middle = [entry["progress"] for entry in qz[1:-1]]
        assert middle and all(p.endswith("… searching older messages") for p in middle)
        assert len(qz) == 8  # one page per window of 50

        assert qz[-1]["ids"] == [ids[395], ids[200], ids[20]]
        assert qz[-1]["status"] == "3 messages"
        assert len(prompts(screen)) == 3
        assert "mentions qz here" in prompts(screen)[2].plain
        assert not screen.searching_older


async def test_a_new_query_cancels_the_search_going_back(
    tmp_path, fake_server, tiny_pages, monkeypatch
):
    store, ids = spread_store(tmp_path)
    listings = record_listings(monkeypatch)
    calls = slow_pages(monkeypatch, 0.05)  # 8 pages: 0.4 s for all of "qz"
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_search(pilot)
        await pilot.press("q", "z")
        await wait_for(pilot, lambda: screen.shown_query == "qz" and screen.searching_older)
        shown_before = len(listings)
        await pilot.press("backspace", "backspace", "w", "v")
        await wait_for(pilot, lambda: listings[-1]["progress"] == "Searched all messages"
                       and listings[-1]["value"] == "wv")
        await pilot.pause(0.3)  # time for any stale page to turn up

        qz_pages = [before_id for query, before_id in calls if query == "qz"]
        assert len(qz_pages) < 8  # it stopped before the oldest message
        after = listings[shown_before:]
        assert all(entry["value"] == "wv" for entry in after)
        assert all(ids[200] not in entry["ids"] and ids[20] not in entry["ids"] for entry in after)
        assert screen.hits and [h.message_id for h in screen.hits] == [ids[300], ids[100]]
        assert listings[-1]["status"] == "2 messages"


async def test_typing_back_the_same_query_starts_over_without_doubles(
    tmp_path, fake_server, tiny_pages, monkeypatch
):
    store, ids = spread_store(tmp_path)
    listings = record_listings(monkeypatch)
    slow_pages(monkeypatch, 0.05)
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_search(pilot)
        await pilot.press("q", "z")
        await wait_for(pilot, lambda: screen.shown_query == "qz" and screen.searching_older)
        await pilot.press("backspace", "z")  # the same query again, mid-search
        await wait_for(pilot, lambda: listings[-1]["progress"] == "Searched all messages")
        await pilot.pause(0.3)
        # Pages of the first search never land in the second one's list.
        assert [h.message_id for h in screen.hits] == [ids[395], ids[200], ids[20]]
        assert len(prompts(screen)) == 3
        assert all(len(entry["ids"]) == len(set(entry["ids"])) for entry in listings)


async def test_an_error_while_going_back_keeps_the_hits_found_and_says_so(
    tmp_path, fake_server, tiny_pages, monkeypatch
):
    import sqlite3

    store, ids = spread_store(tmp_path)
    search_page = Store.search_page

    def failing(self, query, limit=50, before=None, budget_s=None):  # type: ignore[no-untyped-def]
        if before is not None and before[1] < ids[300]:
            raise sqlite3.OperationalError("database is locked")
        return search_page(self, query, limit, before, budget_s)

    monkeypatch.setattr(Store, "search_page", failing)
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_search(pilot)
        await pilot.press("q", "z")
        status = screen.query_one("#search-status")
        await wait_for(pilot, lambda: "failed" in str(status.render()))
        assert str(status.render()) == "Search failed: database is locked"
        assert [h.message_id for h in screen.hits] == [ids[395]]  # kept
        assert len(prompts(screen)) == 1
        assert not screen.progress.display
        assert app.screen is screen  # still open, still typing
        await pilot.press("backspace", "backspace", "w", "v")
        await wait_for(pilot, lambda: screen.shown_query == "wv" and not screen.searching_older)
        assert [h.message_id for h in screen.hits] == [ids[300]]  # a new search, new hits
