"""Searching message text: query parsing, the SQL, and plain-text snippets.

A query is whitespace-separated terms; a message matches when it contains every term
(AND), case-insensitively, as a substring. Terms of three or more characters go through
the FTS5 trigram index made by migrations.m004; shorter ones (a two-kanji word such as
"東京" has no trigram) and databases without the index fall back to LIKE. The user's text
is always bound as a quoted phrase or a LIKE pattern, never parsed as FTS syntax, so a
query like `"foo" OR NEAR(` is just text to look for.

Results are newest first (message id descending). That order is the rowid order of both
tables, so SQLite walks them backwards and stops at LIMIT instead of sorting every match.
"""

from __future__ import annotations

import re
import sqlite3

from tuichat.core.models import SearchHit
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


def search_messages(
    conn: sqlite3.Connection, query: str, limit: int = 50, offset: int = 0
) -> list[SearchHit]:
    """User and assistant messages containing every term of `query`, newest first.

    Superseded messages are included: they are history too.
    """
    terms = query_terms(query)
    if not terms or limit <= 0:
        return []
    long_terms = [t for t in terms if len(t) >= MIN_FTS_TERM]
    if long_terms and has_fts(conn):
        # The index narrows the candidates; any short terms are checked with LIKE on just
        # those rows, which is still far cheaper than scanning every message.
        like_terms = [t for t in terms if len(t) < MIN_FTS_TERM]
        source = f"{FTS_TABLE} AS f JOIN messages AS m ON m.id = f.rowid"
        where = [f"{FTS_TABLE} MATCH ?"]
        params: list[object] = [" AND ".join(fts_phrase(t) for t in long_terms)]
        order = "f.rowid DESC"  # lets FTS5 hand rows over in order (no sort step)
    else:
        like_terms = terms
        source = "messages AS m"
        where, params = [], []
        order = "m.id DESC"
    for term in like_terms:
        where.append(f"m.content LIKE ? ESCAPE '{LIKE_ESCAPE}'")
        params.append(like_contains(term))
    where.append("m.role IN ('user', 'assistant')")
    sql = (
        "SELECT m.id, m.thread_id, m.role, m.content, m.created_at, t.title, t.persona"
        f" FROM {source} JOIN threads AS t ON t.id = m.thread_id"
        f" WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ? OFFSET ?"
    )
    rows = conn.execute(sql, (*params, limit, max(offset, 0))).fetchall()
    hits = []
    for row in rows:
        snippet, spans = make_snippet(row["content"], terms)
        hits.append(
            SearchHit(
                thread_id=row["thread_id"],
                message_id=row["id"],
                thread_title=row["title"],
                persona=row["persona"],
                role=row["role"],
                snippet=snippet,
                spans=spans,
                created_at=row["created_at"],
            )
        )
    return hits


def _terms_pattern(terms: list[str]) -> re.Pattern[str]:
    # Longest first, so "tokyo tower" style overlaps highlight the longer term.
    alternatives = sorted(terms, key=len, reverse=True)
    return re.compile("|".join(re.escape(t) for t in alternatives), re.IGNORECASE)


def _one_line(text: str) -> str:
    # Newlines, tabs and runs of spaces become one space; then control characters become
    # visible symbols (sanitize keeps lengths once there is no CR), so the snippet is
    # safe to print to a terminal as it is.
    return sanitize(_SPACE.sub(" ", text))


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
