"""History search: the FTS5 trigram index and its triggers, the LIKE fallback, snippets,
and the thread filters (store/search.py, migrations.m004, Store.search and friends)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from tuichat.store import Store, search
from tuichat.store.db import connect
from tuichat.store.migrations import MIGRATIONS
from tuichat.store.search import has_fts, make_snippet


@pytest.fixture
def clock():
    ticks = itertools.count(1000.0)
    return lambda: next(ticks)


@pytest.fixture
def store(tmp_path: Path, clock):
    with Store(tmp_path / "search.db", clock=clock) as s:
        yield s


@pytest.fixture
def sql_log(store: Store) -> list[str]:
    """Every SQL statement the store runs from now on, to tell FTS from LIKE."""
    log: list[str] = []
    store._conn.set_trace_callback(log.append)
    return log


def ids(hits) -> list[int]:
    return [h.message_id for h in hits]


def fts_rowids(store: Store, term: str) -> list[int]:
    # Straight from the index, so a stale entry (a missing trigger) shows up here even
    # though the join in Store.search would hide it.
    rows = store._conn.execute(
        "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?", (f'"{term}"',)
    )
    return [r[0] for r in rows]


def used_fts(log: list[str]) -> bool:
    return any("MATCH" in sql for sql in log)


# The index and its triggers


def test_the_index_exists_and_follows_inserts_updates_and_deletes(store: Store) -> None:
    assert has_fts(store._conn)
    thread = store.create_thread("default", "m")
    message = store.add_message(thread.id, "user", "the quick brown fox")
    assert ids(store.search("brown")) == [message.id]
    assert fts_rowids(store, "brown") == [message.id]

    store.update_message(message.id, content="a lazy purple dog")
    assert store.search("brown") == []
    assert fts_rowids(store, "brown") == []
    assert ids(store.search("purple")) == [message.id]

    store.update_message(message.id, status="stopped")  # not a content change
    assert ids(store.search("purple")) == [message.id]

    store.delete_thread(thread.id)  # messages go by ON DELETE CASCADE
    assert store.search("purple") == []
    assert fts_rowids(store, "purple") == []


def test_migrating_a_database_from_before_search_indexes_its_old_messages(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "old.db"
    names = [fn.__name__ for fn in MIGRATIONS]
    before = MIGRATIONS[: names.index("m003_drafts") + 1]
    with monkeypatch.context() as m:
        m.setattr("tuichat.store.migrations.MIGRATIONS", before)
        conn = connect(path)
        assert not has_fts(conn)
        with conn:
            conn.execute("INSERT INTO threads (title, persona, model, created_at, updated_at)"
                         " VALUES ('old', 'default', 'm', 1, 1)")
            conn.executemany(
                "INSERT INTO messages (thread_id, role, content, created_at, updated_at) VALUES (1, ?, ?, 1, 1)",
                [("user", "Remember the Eiffel tower"), ("assistant", "東京タワーも素敵です")],
            )
        conn.close()
    with Store(path) as store:
        assert has_fts(store._conn)
        assert [h.snippet for h in store.search("eiffel")] == ["Remember the Eiffel tower"]
        assert [h.role for h in store.search("東京タワー")] == ["assistant"]
        # and the triggers work on the migrated database
        new = store.add_message(1, "user", "Eiffel again")
        assert ids(store.search("eiffel"))[0] == new.id


# Queries


@pytest.fixture
def history(store: Store) -> dict[str, int]:
    thread = store.create_thread("default", "m", title="Travel")
    other = store.create_thread("ojousama", "m", title="Cats")
    rows = {
        "tokyo": store.add_message(thread.id, "user", "We went to 東京タワー yesterday."),
        "tokyo2": store.add_message(thread.id, "assistant", "東京 is lovely in spring.\nEnjoy!"),
        "python": store.add_message(other.id, "user", "I like Python and PYTHON likes me"),
        "both": store.add_message(other.id, "assistant", "apples and bananas"),
        "apple": store.add_message(other.id, "user", "apples only"),
        "cat": store.add_message(other.id, "assistant", "猫が好き"),
        "system": store.add_message(other.id, "system", "apples and bananas in a note"),
    }
    return {name: message.id for name, message in rows.items()}


def test_short_japanese_term_uses_like_and_finds_substrings(store, history, sql_log) -> None:
    assert ids(store.search("東京")) == [history["tokyo2"], history["tokyo"]]
    assert ids(store.search("猫")) == [history["cat"]]
    assert not used_fts(sql_log)


def test_long_japanese_term_uses_the_index(store, history, sql_log) -> None:
    assert ids(store.search("東京タワー")) == [history["tokyo"]]
    assert used_fts(sql_log)


def test_english_is_case_insensitive(store, history, sql_log) -> None:
    assert ids(store.search("pYtHoN")) == [history["python"]]
    assert used_fts(sql_log)


def test_all_terms_must_match(store, history) -> None:
    assert ids(store.search("apples bananas")) == [history["both"]]  # not the system note
    assert ids(store.search("bananas apples")) == [history["both"]]
    assert ids(store.search("apples")) == [history["apple"], history["both"]]
    # a short and a long term: the index narrows, LIKE checks the short one
    assert ids(store.search("東京 タワー")) == [history["tokyo"]]
    assert store.search("東京 python") == []


def test_system_messages_are_not_searched(store, history) -> None:
    assert history["system"] not in ids(store.search("note"))
    assert store.search("a note") == []


@pytest.mark.parametrize(
    "query",
    ['"', '""', '"foo" OR', "NEAR(", "NEAR(apples bananas)", "*", "apples*", "-apples", "a:b",
     "AND OR NOT", "^apples", "(((", "content:apples", "'; DROP TABLE messages; --", "%", "_"],
)
def test_fts_syntax_in_the_query_is_plain_text(store, history, query) -> None:
    # No history message holds these characters as text: searched as plain text (never
    # as FTS syntax or a LIKE wildcard), nothing matches, with or without a real word.
    assert store.search(query) == []
    assert store.search(f"{query} apples") == []
    # As a message's text, it is found (the query is literal text, nothing more).
    thread = store.create_thread("default", "m")
    made = store.add_message(thread.id, "user", f"literally {query} apples here")
    assert ids(store.search(f"{query} apples")) == [made.id]


def test_syntax_characters_are_searched_literally(store: Store) -> None:
    thread = store.create_thread("default", "m")
    quoted = store.add_message(thread.id, "user", 'say "foo" OR bar')
    store.add_message(thread.id, "user", "foo bar")
    percent = store.add_message(thread.id, "user", "50% off")
    store.add_message(thread.id, "user", "500 off")
    underscore = store.add_message(thread.id, "user", "snake_case")
    store.add_message(thread.id, "user", "snakeXcase")
    assert ids(store.search('"foo"')) == [quoted.id]
    assert ids(store.search('"foo" OR')) == [quoted.id]
    assert ids(store.search("0%")) == [percent.id]  # short: LIKE, with % escaped
    assert ids(store.search("50% off")) == [percent.id]
    assert ids(store.search("e_c")) == [underscore.id]
    assert ids(store.search("snake_case")) == [underscore.id]


def test_blank_query_finds_nothing(store, history) -> None:
    assert store.search("") == []
    assert store.search("   \n") == []


def test_newest_first_and_pages(store: Store) -> None:
    thread = store.create_thread("default", "m")
    made = [store.add_message(thread.id, "user", f"needle {n}").id for n in range(7)]
    newest_first = made[::-1]
    assert ids(store.search("needle")) == newest_first
    assert ids(store.search("needle", limit=3)) == newest_first[:3]
    assert ids(store.search("needle", limit=3, offset=3)) == newest_first[3:6]
    assert ids(store.search("needle", limit=3, offset=6)) == newest_first[6:]


def test_superseded_messages_are_still_found(store: Store) -> None:
    thread = store.create_thread("default", "m")
    old = store.add_message(thread.id, "assistant", "first draft of the answer")
    store.supersede(old.id)
    assert ids(store.search("draft")) == [old.id]


def test_hits_carry_thread_details(store, history) -> None:
    (hit,) = store.search("猫")
    assert (hit.thread_title, hit.persona, hit.role) == ("Cats", "ojousama", "assistant")
    assert hit.thread_id == store.get_thread(hit.thread_id).id
    assert hit.created_at > 0


# Snippets and spans


def test_spans_point_at_the_matches(store, history) -> None:
    for query in ("python", "東京", "東京タワー", "apples bananas"):
        terms = [t.lower() for t in query.split()]
        for hit in store.search(query):
            assert hit.spans, (query, hit)
            assert all(hit.snippet[s:e].lower() in terms for s, e in hit.spans)
    (hit,) = store.search("python")
    assert [hit.snippet[s:e] for s, e in hit.spans] == ["Python", "PYTHON"]


def test_snippet_is_one_line_around_the_match(store: Store) -> None:
    thread = store.create_thread("default", "m")
    text = ("intro line\n" * 40) + "here is the\tNEEDLE\r\nin a haystack\n" + ("outro line\n" * 40)
    store.add_message(thread.id, "user", text)
    (hit,) = store.search("needle")
    assert "\n" not in hit.snippet and "\r" not in hit.snippet and "\t" not in hit.snippet
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…")
    assert 60 <= len(hit.snippet) <= 125
    (span,) = hit.spans
    assert hit.snippet[span[0]:span[1]] == "NEEDLE"


def test_short_message_snippet_is_the_whole_text_without_ellipses() -> None:
    snippet, spans = make_snippet("  Hello\nworld  ", ["world"])
    assert snippet == "Hello world"
    assert spans == [(6, 11)]


def test_snippet_has_no_control_characters() -> None:
    snippet, spans = make_snippet("evil \x1b[31mred\x1b[0m text", ["red"])
    assert "\x1b" not in snippet
    assert snippet[spans[0][0]:spans[0][1]] == "red"


def test_overlapping_terms_give_merged_spans() -> None:
    snippet, spans = make_snippet("abcdef", ["abcd", "cdef"])
    assert spans == [(0, 6)]


# Without the index


def test_without_trigram_the_migration_creates_nothing_and_like_finds_the_same(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr("tuichat.store.migrations.TRIGRAM_AVAILABLE", False)
    with Store(tmp_path / "plain.db") as store:
        assert not has_fts(store._conn)
        log: list[str] = []
        store._conn.set_trace_callback(log.append)
        thread = store.create_thread("default", "m")
        a = store.add_message(thread.id, "user", "We went to 東京タワー")
        b = store.add_message(thread.id, "assistant", "Python, PYTHON and python")
        store.update_message(b.id, content="Python, PYTHON and python!")
        assert ids(store.search("東京タワー")) == [a.id]
        assert ids(store.search("東京")) == [a.id]
        assert ids(store.search("python and")) == [b.id]
        assert ids(store.search('"foo" OR NEAR(')) == []
        (hit,) = store.search("python")
        assert len(hit.spans) == 3
        assert not used_fts(log)


# Thread filters and positions


def test_filter_threads_by_title(store: Store) -> None:
    a = store.create_thread("default", "m", title="Trip to Tokyo")
    b = store.create_thread("default", "m", title="tokyo food")
    c = store.create_thread("default", "m", title="100% cotton")
    store.create_thread("default", "m", title="Groceries")
    store.add_message(a.id, "user", "more activity")  # a is now the most recent
    assert [t.id for t in store.filter_threads("TOKYO")] == [a.id, b.id]
    assert [t.id for t in store.filter_threads("0%")] == [c.id]
    assert [t.id for t in store.filter_threads("_")] == []
    assert [t.id for t in store.filter_threads("tokyo", limit=1)] == [a.id]
    assert store.filter_threads("  ") == store.list_threads()
    assert store.thread_count() == 4


def test_message_position_counts_non_system_messages(store: Store) -> None:
    thread = store.create_thread("default", "m")
    other = store.create_thread("default", "m")
    first = store.add_message(thread.id, "user", "q1")
    store.add_message(other.id, "user", "elsewhere")
    store.add_message(thread.id, "system", "a note")
    second = store.add_message(thread.id, "assistant", "a1")
    third = store.add_message(thread.id, "user", "q2")
    assert [store.message_position(thread.id, m.id) for m in (first, second, third)] == [0, 1, 2]
    with pytest.raises(LookupError):
        store.message_position(other.id, first.id)


# Bounded, resumable pages (Store.search_page)

OLD_HITS = (3, 40, 41, 42, 150, 151, 700)  # positions among the messages, all far from the newest


def seed_old_hits(store: Store, count: int = 2_000) -> list[int]:
    """`count` messages in two threads, every one containing "filler"; those at OLD_HITS
    also contain "qz" and "xylophone". Returns the hits' ids, newest first."""
    a = store.create_thread("default", "m", title="A")
    b = store.create_thread("default", "m", title="B")
    rows = []
    for i in range(count):
        text = f"filler {i}" + (" says qz and xylophone" if i in OLD_HITS else "")
        rows.append(((a, b)[i % 2].id, ("user", "assistant")[i % 2], text, 1000.0 + i))
    with store._conn:  # one transaction: thousands of add_message commits would be slow
        store._conn.executemany(
            "INSERT INTO messages (thread_id, role, content, status, created_at, updated_at)"
            " VALUES (?, ?, ?, 'done', ?, ?)",
            [(*row, row[-1]) for row in rows],
        )
    found = store._conn.execute(
        "SELECT id FROM messages WHERE content LIKE '%qz%' ORDER BY id DESC"
    ).fetchall()
    return [r[0] for r in found]


@pytest.fixture
def small_windows(monkeypatch):
    """Windows of 100 message ids, so a few thousand messages take many of them."""
    for name in ("FIRST_WINDOW", "MAX_WINDOW", "INDEX_FIRST_WINDOW", "INDEX_MAX_WINDOW"):
        monkeypatch.setattr(search, name, 100)
    monkeypatch.setattr(search, "MIN_WINDOW", 1)


def follow_pages(store: Store, query: str, limit: int, budget_s: float | None) -> list:
    pages = [store.search_page(query, limit=limit, budget_s=budget_s)]
    while pages[-1].next_before is not None:
        assert len(pages) < 1_000, "paging does not end"
        pages.append(
            store.search_page(query, limit=limit, before=pages[-1].next_before, budget_s=budget_s)
        )
    return pages


# "qz" alone is LIKE over every message; "filler qz" is the index plus LIKE; "xylophone"
# is the index alone. All three find exactly the OLD_HITS messages.
@pytest.mark.parametrize("query", ["qz", "filler qz", "xylophone"])
@pytest.mark.parametrize("limit", [50, 2])
def test_a_tiny_budget_returns_early_and_following_the_pages_finds_every_hit_once(
    store, small_windows, query, limit
) -> None:
    expected = seed_old_hits(store)
    newest = store._conn.execute("SELECT max(id) FROM messages").fetchone()[0]

    first = store.search_page(query, limit=limit, budget_s=0)
    # The newest 100 ids hold no hit: one window searched, then the budget (none) is spent.
    assert first.hits == []
    assert first.next_before[1] == newest - 100 + 1
    created = store._conn.execute(
        "SELECT created_at FROM messages WHERE id = ?", (first.next_before[1],)
    ).fetchone()[0]
    assert first.oldest_scanned_at == created

    pages = follow_pages(store, query, limit, budget_s=0)
    found = [hit.message_id for page in pages for hit in page.hits]
    assert found == expected  # every hit, once, newest first
    assert len(pages) > 2_000 // 100 - 1  # one window per page
    assert all(len(page.hits) <= limit for page in pages)
    assert pages[-1].next_before is None and pages[-1].oldest_scanned_at is None
    assert all(hit.snippet.startswith("filler") for page in pages for hit in page.hits)


def test_before_id_searches_only_older_messages(store, small_windows) -> None:
    expected = seed_old_hits(store)
    at = store._conn.execute("SELECT created_at FROM messages WHERE id = ?", (expected[2],)).fetchone()[0]
    page = store.search_page("qz", before=(at, expected[2]), budget_s=None)
    assert ids(page.hits) == expected[3:]
    assert page.next_before is None


def test_a_full_page_of_an_index_query_says_where_to_go_on(store, sql_log) -> None:
    thread = store.create_thread("default", "m")
    made = [store.add_message(thread.id, "user", f"tokyo trip {i}").id for i in range(10)]
    newest_first = made[::-1]

    page = store.search_page("tokyo", limit=4)
    assert used_fts(sql_log)
    assert ids(page.hits) == newest_first[:4]
    assert page.next_before[1] == newest_first[3]  # the last hit: go on below it
    assert page.oldest_scanned_at == page.hits[-1].created_at

    page = store.search_page("tokyo", limit=4, before=page.next_before)
    assert ids(page.hits) == newest_first[4:8]
    page = store.search_page("tokyo", limit=4, before=page.next_before)
    assert ids(page.hits) == newest_first[8:]
    assert page.next_before is None  # fewer than asked: nothing older is left


def test_no_budget_searches_to_the_end_in_one_page(store, small_windows) -> None:
    expected = seed_old_hits(store)
    for query in ("qz", "filler qz", "xylophone"):
        page = store.search_page(query, budget_s=None)
        assert ids(page.hits) == expected
        assert page.next_before is None
        assert page.oldest_scanned_at is None


def test_a_generous_budget_finishes_a_small_history_in_one_page(store, history) -> None:
    page = store.search_page("東京", budget_s=10.0)
    assert ids(page.hits) == [history["tokyo2"], history["tokyo"]]
    assert page.next_before is None


def test_search_page_of_nothing(store: Store) -> None:
    assert store.search_page("qz").hits == []  # an empty database
    thread = store.create_thread("default", "m")
    store.add_message(thread.id, "user", "hello")
    assert store.search_page("   ").next_before is None
    assert store.search_page("qz", limit=0).hits == []
    assert store.search_page("qz", before=(0.0, 1)).next_before is None  # nothing older


def test_newest_first_is_by_message_date_not_by_when_it_was_stored(store) -> None:
    # An import writes old messages after today's: they still come out where their dates are.
    today = store.create_thread("default", "m")
    now = store.add_message(today.id, "user", "tokyo today")
    old = store.create_thread("default", "m")
    early = store.add_message(old.id, "user", "tokyo long ago")
    later = store.add_message(old.id, "assistant", "tokyo a little later")
    store._conn.execute("UPDATE messages SET created_at = 1000 WHERE id = ?", (early.id,))
    store._conn.execute("UPDATE messages SET created_at = 2000 WHERE id = ?", (later.id,))
    store._conn.execute("UPDATE messages SET created_at = 3000 WHERE id = ?", (now.id,))
    store._conn.commit()
    for query in ("tokyo", "to"):  # the index, and LIKE
        page = store.search_page(query, budget_s=None)
        assert [h.snippet for h in page.hits] == ["tokyo today", "tokyo a little later", "tokyo long ago"]
        assert [h.message_id for h in store.search(query)] == [h.message_id for h in page.hits]
    # Paging on by date finds the older ones after the newest.
    first = store.search_page("tokyo", limit=1)
    rest = store.search_page("tokyo", before=first.next_before)
    assert [h.snippet for h in rest.hits] == ["tokyo a little later", "tokyo long ago"]
