"""Search every message of every thread (Ctrl+F) and pick one to jump to."""

from __future__ import annotations

import time

from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tuichat.core.models import SearchHit
from tuichat.core.text import sanitize
from tuichat.store import Store

# Results follow the typing, but a query runs only once typing pauses this long.
DEBOUNCE = 0.15
LIMIT = 50


def hit_label(hit: SearchHit, match_style: Style) -> Text:
    """Two lines for a result: thread title, date and role; then the snippet with every
    match styled. Built from plain text (titles and snippets are untrusted), never markup."""
    label = Text(no_wrap=True, overflow="ellipsis")
    label.append(sanitize(hit.thread_title) or "(untitled)", style="bold")
    date = time.strftime("%Y-%m-%d", time.localtime(hit.created_at))
    label.append(f"  {date}  {'You' if hit.role == 'user' else 'Assistant'}", style="dim")
    label.append("\n")
    start = len(label)
    label.append(hit.snippet)
    for begin, end in hit.spans:
        label.stylize(match_style, start + begin, start + end)
    return label


class SearchResults(OptionList):
    """The hits, two lines each."""

    COMPONENT_CLASSES = {"search-results--match"}

    DEFAULT_CSS = """
    SearchResults > .search-results--match {
        color: $text-warning;
        text-style: bold underline;
    }
    """


class SearchScreen(ModalScreen[tuple[SearchHit, str] | None]):
    """A query box over a list of hits. Dismisses with (the chosen hit, the query), or
    None on Escape.

    A query runs once typing pauses, in a worker thread: Store.search is indexed, but a
    rare one- or two-character term has no trigram and scans every message (about 0.3 s
    for a million), which must not freeze the typing. Results of a query the box no
    longer holds are dropped.
    """

    BINDINGS = [
        Binding("escape", "cancel", "Close", id="picker.cancel"),
        Binding("down", "move(1)", "Next", id="search.next", show=False),
        Binding("up", "move(-1)", "Previous", id="search.previous", show=False),
    ]

    DEFAULT_CSS = """
    SearchScreen {
        align: center top;
    }
    SearchScreen > Vertical {
        width: 100;
        max-width: 95%;
        height: auto;
        max-height: 90%;
        margin-top: 2;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    SearchScreen #search-status {
        height: 1;
        color: $text-muted;
    }
    SearchScreen SearchResults {
        height: auto;
        max-height: 30;
    }
    """

    def __init__(self, store: Store, query: str = "") -> None:
        super().__init__()
        self.store = store
        self.initial_query = query
        self.hits: list[SearchHit] = []
        self.shown_query: str | None = None  # the query the list shows results of
        self._requested: str | None = None  # the query last sent to the store
        self._enter_pending = False  # Enter came before the results: take the first
        self._timer: Timer | None = None
        # SQLite connections belong to the thread that opened them, so a worker opens its
        # own; a private in-memory database (tests) can only be searched where it lives.
        self._in_thread = str(store.path) != ":memory:"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Input(self.initial_query, placeholder="Search every message…", id="search-query")
            yield Static(id="search-status")
            yield SearchResults(id="search-results")

    @property
    def query_input(self) -> Input:
        return self.query_one("#search-query", Input)

    @property
    def results(self) -> SearchResults:
        return self.query_one(SearchResults)

    def on_mount(self) -> None:
        self.query_input.focus()
        self.run_search()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._enter_pending = False
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DEBOUNCE, self.run_search, name="search-debounce")

    def run_search(self) -> None:
        """Search for what the box holds now (unless that is already under way)."""
        query = self.query_input.value
        if query == self._requested:
            return
        self._requested = query
        if not query.strip():
            self.show_results(query, [])
        elif self._in_thread:
            self._search_in_thread(query)
        else:
            self.show_results(query, self._search(self.store, query))

    @staticmethod
    def _search(store: Store, query: str) -> list[SearchHit] | Exception:
        try:
            return store.search(query, limit=LIMIT)
        except Exception as exc:  # a locked or damaged database: say so, keep the box
            return exc

    @work(thread=True, exclusive=True, group="search", exit_on_error=False)
    def _search_in_thread(self, query: str) -> None:
        try:
            with Store(self.store.path) as store:
                result = self._search(store, query)
        except Exception as exc:
            result = exc
        self.app.call_from_thread(self.show_results, query, result)

    def show_results(self, query: str, result: list[SearchHit] | Exception) -> None:
        """List the hits of `query`, unless the box has moved on to another query."""
        if not self.is_attached or query != self.query_input.value:
            return
        status = self.query_one("#search-status", Static)
        results = self.results
        self.shown_query = query
        results.clear_options()
        self.hits = result if isinstance(result, list) else []
        if isinstance(result, Exception):
            status.update(Text(f"Search failed: {result}"))
        elif not query.strip():
            status.update("Type to search every message of every thread.")
        elif not self.hits:
            status.update(Text(f"No messages match “{sanitize(query.strip())}”."))
        else:
            style = results.get_component_rich_style("search-results--match", partial=True)
            results.add_options([Option(hit_label(hit, style)) for hit in self.hits])
            results.highlighted = 0
            count = len(self.hits)
            more = f" (the newest {LIMIT}; add words to narrow it down)" if count == LIMIT else ""
            status.update(Text(f"{count} message{'s' if count != 1 else ''}{more}"))
        if self._enter_pending:
            self._enter_pending = False
            self.choose(0)

    def action_move(self, step: int) -> None:
        results = self.results
        if not self.hits:
            return
        current = results.highlighted if results.highlighted is not None else -step
        results.highlighted = max(0, min(len(self.hits) - 1, current + step))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.shown_query == self.query_input.value:
            self.choose(self.results.highlighted or 0)
        else:
            # Enter before the results of what was typed: search now, open the first hit.
            self._enter_pending = True
            if self._timer is not None:
                self._timer.stop()
            self.run_search()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.choose(event.option_index)

    def choose(self, index: int) -> None:
        if 0 <= index < len(self.hits):
            self.dismiss((self.hits[index], self.shown_query or ""))

    def action_cancel(self) -> None:
        self.dismiss(None)
