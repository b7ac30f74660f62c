"""Searching message text: query parsing, the SQL, and plain-text snippets.

A query is whitespace-separated terms; a message matches when it contains every term
(AND), case-insensitively, as a substring. Terms of three or more characters go through
the FTS5 trigram index made by migrations.m004; shorter ones (a two-kanji word such as
"東京" has no trigram) and databases without the index fall back to LIKE. The user's text
is always bound as a quoted phrase or a LIKE pattern, never parsed as FTS syntax, so a
query like `"foo" OR NEAR(` is just text to look for.

Results are newest first by the message's date (created_at, then id): an imported
thread's messages are written after today's but belong where their dates put them. The
(created_at, id) index (migrations.m011) gives that order without sorting every message.

A rare short term still reads every message (about 0.5 s warm for a million, seconds
cold), and even the index is slow when common terms seldom meet. `search_page` therefore
searches descending windows of messages by date, newest first, and stops when the page is
full or its time budget is spent, saying where it stopped so the caller can go on.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from tuichat.core.models import SearchHit, SearchPage
from tuichat.core.text import sanitize

FTS_TABLE = "messages_fts"
# The trigram tokenizer indexes runs of three characters; a shorter phrase matches nothing.
MIN_FTS_TERM = 3
# Snippet shape: up to this many characters, with the first match this far from the start.
SNIPPET_WIDTH = 100
SNIPPET_LEAD = 30
ELLIPSIS = "…"
_SPACE = re.compile(r"\s+")
LIKE_ESCAPE = "\\"

# search_page: the time one page may take by default, comfortably inside the 100 ms
# budget for the first results. Windows are counted in messages. Without the index the
# first is small, so a cold cache (~15 microseconds a message) cannot blow the budget;
# with it, windows start large (each query has a fixed cost: reading the index's
# structure) and have no upper bound. Later windows are sized from the speed measured so
# far, growing at most GROWTH times at each step.
PAGE_BUDGET_S = 0.07
FIRST_WINDOW = 2_000
MAX_WINDOW = 50_000
INDEX_FIRST_WINDOW = 50_000
INDEX_MAX_WINDOW = 1 << 62
MIN_WINDOW = 500
GROWTH = 4


def query_terms(query: str) -> list[str]:
    """The search terms of `query`, duplicates removed (order kept)."""
    return list(dict.fromkeys(query.split()))


def fts_phrase(term: str) -> str:
    """`term` as an FTS5 string literal: a phrase, never an operator or a column filter."""
    return '"' + term.replace('"', '""') + '"'


def like_escape(text: str) -> str:
    """`text` with LIKE's wildcards escaped, for use with ESCAPE '\\'."""
    for special in (LIKE_ESCAPE, "%", "_"):  # the escape character itself first
        text = text.replace(special, LIKE_ESCAPE + special)
    return text


def like_contains(text: str) -> str:
    """A LIKE pattern matching any string that contains `text`."""
    return f"%{like_escape(text)}%"


def has_fts(conn: sqlite3.Connection) -> bool:
    """Whether this database has the trigram index (see migrations.m004)."""
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (FTS_TABLE,)
    ).fetchone()
    return row is not None


@dataclass
class _Plan:
    """The SQL pieces of one query: where rows come from and what they must match."""

    source: str
    where: list[str]
    params: list[object]
    uses_index: bool


def _plan(conn: sqlite3.Connection, terms: list[str]) -> _Plan:
    long_terms = [t for t in terms if len(t) >= MIN_FTS_TERM]
    if long_terms and has_fts(conn):
        # The index narrows the candidates; any short terms are checked with LIKE on just
        # those rows, which is usually far cheaper than scanning every message.
        like_terms = [t for t in terms if len(t) < MIN_FTS_TERM]
        plan = _Plan(
            source=f"{FTS_TABLE} AS f JOIN messages AS m ON m.id = f.rowid",
            where=[f"{FTS_TABLE} MATCH ?"],
            params=[" AND ".join(fts_phrase(t) for t in long_terms)],
            uses_index=True,
        )
    else:
        like_terms = terms
        plan = _Plan(source="messages AS m", where=[], params=[], uses_index=False)
    for term in like_terms:
        plan.where.append(f"m.content LIKE ? ESCAPE '{LIKE_ESCAPE}'")
        plan.params.append(like_contains(term))
    plan.where.append("m.role IN ('user', 'assistant')")
    return plan


def _select(plan: _Plan, extra_where: list[str]) -> str:
    return (
        "SELECT m.id, m.thread_id, m.role, m.content, m.created_at, t.title, t.persona"
        f" FROM {plan.source} JOIN threads AS t ON t.id = m.thread_id"
        f" WHERE {' AND '.join(plan.where + extra_where)}"
        " ORDER BY m.created_at DESC, m.id DESC LIMIT ? OFFSET ?"
    )


def _hit(row: sqlite3.Row, terms: list[str]) -> SearchHit:
    snippet, spans = make_snippet(row["content"], terms)
    return SearchHit(
        thread_id=row["thread_id"],
        message_id=row["id"],
        thread_title=row["title"],
        persona=row["persona"],
        role=row["role"],
        snippet=snippet,
        spans=spans,
        created_at=row["created_at"],
    )


def search_messages(
    conn: sqlite3.Connection, query: str, limit: int = 50, offset: int = 0
) -> list[SearchHit]:
    """User and assistant messages containing every term of `query`, newest first, in
    one query that may read every message (see search_page for a bounded one).

    Superseded messages are included: they are history too.
    """
    terms = query_terms(query)
    if not terms or limit <= 0:
        return []
    plan = _plan(conn, terms)
    rows = conn.execute(_select(plan, []), (*plan.params, limit, max(offset, 0))).fetchall()
    return [_hit(row, terms) for row in rows]


def search_page(
    conn: sqlite3.Connection,
    query: str,
    limit: int = 50,
    before: tuple[float, int] | None = None,
    budget_s: float | None = PAGE_BUDGET_S,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> SearchPage:
    """Up to `limit` matches of `query` older than `before` ((created_at, id) of a
    message; None: from the newest), newest first, searching for at most about
    `budget_s` seconds (None: no limit).

    Windows of messages are searched newest first; the time is checked between windows,
    and a window is only started if the speed measured so far says it fits in what is
    left, so a page overruns its budget by a fraction of one window at most. The first
    window is always searched, so every page makes progress. See SearchPage for how to go
    on.
    """
    terms = query_terms(query)
    if not terms or limit <= 0:
        return SearchPage([], None, None)
    started = clock()
    plan = _plan(conn, terms)
    high = before
    hits: list[SearchHit] = []
    if plan.uses_index:
        first_window, max_window = INDEX_FIRST_WINDOW, INDEX_MAX_WINDOW
    else:
        first_window, max_window = FIRST_WINDOW, MAX_WINDOW
    window = max_window if budget_s is None else first_window
    while True:
        low = _window_start(conn, high, window)  # this window: low <= message < high
        extra, bounds = [], []
        if high is not None:
            extra.append("(m.created_at, m.id) < (?, ?)")
            bounds.extend(high)
        if low is not None:
            extra.append("(m.created_at, m.id) >= (?, ?)")
            bounds.extend(low)
            if plan.uses_index:
                # FTS5 reads a rowid range cheaply: the ids this window of dates holds
                # (close together, unless an import wrote old messages late).
                extra.append("f.rowid BETWEEN ? AND ?")
                bounds.extend(_id_range(conn, high, low))
        window_started = clock()
        rows = conn.execute(_select(plan, extra), (*plan.params, *bounds, limit - len(hits), 0)).fetchall()
        took = clock() - window_started
        hits.extend(_hit(row, terms) for row in rows)
        if len(hits) >= limit:
            last = hits[-1]
            return SearchPage(hits, (last.created_at, last.message_id), last.created_at)
        if low is None:
            return SearchPage(hits, None, None)  # the oldest message has been searched
        high = low
        seconds_per_message = took / window
        if budget_s is None:
            continue
        left = budget_s - (clock() - started)
        fits = left / seconds_per_message if seconds_per_message > 0 else (max_window if left > 0 else 0)
        if fits < MIN_WINDOW:
            return SearchPage(hits, high, high[0])
        window = int(min(fits, window * GROWTH, max_window))


def _id_range(conn: sqlite3.Connection, high: tuple[float, int] | None, low: tuple[float, int]) -> tuple[int, int]:
    """The smallest and largest id of the messages dated in [low, high) (the index only)."""
    if high is None:
        row = conn.execute("SELECT min(id), max(id) FROM messages WHERE (created_at, id) >= (?, ?)", low).fetchone()
    else:
        row = conn.execute("SELECT min(id), max(id) FROM messages WHERE (created_at, id) >= (?, ?)"
                           " AND (created_at, id) < (?, ?)", (*low, *high)).fetchone()
    return (row[0] or 0, row[1] or 0)


def _window_start(conn: sqlite3.Connection, high: tuple[float, int] | None, size: int) -> tuple[float, int] | None:
    """(created_at, id) of the oldest of the `size` messages just below `high`; None when
    no message is older than those (the window reaches the oldest). Walks the index only."""
    if size >= 1 << 40:
        return None
    # Two rows: the window's oldest, and whether anything is older still.
    if high is None:
        rows = conn.execute("SELECT created_at, id FROM messages ORDER BY created_at DESC, id DESC"
                            " LIMIT 2 OFFSET ?", (size - 1,)).fetchall()
    else:
        rows = conn.execute("SELECT created_at, id FROM messages WHERE (created_at, id) < (?, ?)"
                            " ORDER BY created_at DESC, id DESC LIMIT 2 OFFSET ?", (*high, size - 1)).fetchall()
    return (rows[0][0], rows[0][1]) if len(rows) == 2 else None


def _terms_pattern(terms: list[str]) -> re.Pattern[str]:
    # Longest first, so "tokyo tower" style overlaps highlight the longer term.
    alternatives = sorted(terms, key=len, reverse=True)
    return re.compile("|".join(re.escape(t) for t in alternatives), re.IGNORECASE)


def _one_line(text: str) -> str:
    # Newlines, tabs and runs of spaces become one space; then control characters, bidi
    # controls and zero-width characters become visible symbols (a list entry), so the
    # snippet is safe to print to a terminal as it is. Spans are found afterwards.
    return sanitize(_SPACE.sub(" ", text), line=True)


def make_snippet(content: str, terms: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """One line of `content` around the first match of any term, and every match's span.

    Python's IGNORECASE folding keeps lengths, so spans found here are offsets into the
    snippet exactly as returned.
    """
    pattern = _terms_pattern(terms) if terms else None
    first = pattern.search(content) if pattern else None
    at = first.start() if first else 0
    # Cut a generous raw window first so a huge message is never normalised whole.
    raw_start = max(0, at - 4 * SNIPPET_LEAD)
    raw_end = min(len(content), at + 4 * SNIPPET_WIDTH)
    piece = _one_line(content[raw_start:raw_end])
    if raw_start == 0:
        piece = piece.lstrip()
    if raw_end == len(content):
        piece = piece.rstrip()
    first_in_piece = pattern.search(piece) if pattern else None
    at = first_in_piece.start() if first_in_piece else 0
    start = max(0, at - SNIPPET_LEAD)
    end = min(len(piece), start + SNIPPET_WIDTH)
    start = max(0, min(start, end - SNIPPET_WIDTH))  # near the end: show more before
    body = piece[start:end].strip()
    cut_before = raw_start > 0 or start > 0
    cut_after = raw_end < len(content) or end < len(piece)
    snippet = (ELLIPSIS if cut_before else "") + body + (ELLIPSIS if cut_after else "")
    return snippet, match_spans(snippet, terms)


def match_spans(text: str, terms: list[str]) -> list[tuple[int, int]]:
    """Sorted, non-overlapping (start, end) spans of every occurrence of any term."""
    found = sorted(
        (m.start(), m.end())
        for term in terms
        for m in re.finditer(re.escape(term), text, re.IGNORECASE)
    )
    merged: list[tuple[int, int]] = []
    for start, end in found:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
