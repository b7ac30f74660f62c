"""Search every message of every thread (Ctrl+F) and pick one to jump to."""

from __future__ import annotations

import queue

from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from tuichat.session import history
from tuichat.core.models import SearchHit, SearchPage
from tuichat.core.text import clean_line, sanitize
from tuichat.core.timestamps import local_date
from tuichat.store import Store
from tuichat.store.async_store import AsyncStore

# Results follow the typing, but a query runs only once typing pauses this long.
DEBOUNCE = 0.15
LIMIT = 50
# How long one page of results may search (Store.search_page). A rare short term has no
# index and must read every message (seconds on a big, cold history), so the first page
# is listed after about this long and the worker goes on with older messages, page by
# page, until LIMIT hits or the oldest message. Read at each page, so tests can shrink it.
PAGE_BUDGET_S = 0.07
# How often the idle search thread checks whether the screen has closed.
IDLE_POLL_S = 0.1


def hit_label(hit: SearchHit, match_style: Style) -> Text:
    """Two lines for a result: thread title, date and role; then the snippet with every
    match styled. Built from plain text (titles and snippets are untrusted), never markup."""
    label = Text(no_wrap=True, overflow="ellipsis")
    label.append(clean_line(hit.thread_title) or "(untitled)", style="bold")
    date = local_date(hit.created_at)  # any stored value formats
    label.append(f"  {date}  {'You' if hit.role == 'user' else 'Assistant'}", style="dim")
    label.append("\n")
    start = len(label)
    label.append(clean_line(hit.snippet))  # clean already (the store's); lengths kept
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

    A query runs once typing pauses, in the screen's one search thread, which keeps one
    read connection for as long as the screen is open (a new connection starts with a
    cold cache: 7-21 ms instead of 1-2 ms on a big history). Each query is searched in
    time-boxed pages (Store.search_page): the first is listed at once, later ones are
    appended with a "searched back to <date>" line until LIMIT hits or the oldest
    message. Every keystroke starts a new generation; pages of an older one are neither
    searched further nor shown.
    """

    class PageFound(Message):
        """A page of results (or the error that stopped the search), from the thread."""

        def __init__(
            self, generation: int, query: str, result: SearchPage | Exception, first: bool
        ) -> None:
            super().__init__()
            self.generation = generation
            self.query = query
            self.result = result
            self.first = first

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
    SearchScreen #search-progress {
        height: 1;
        color: $text-muted;
        text-style: dim;
    }
    SearchScreen SearchResults {
        height: auto;
        max-height: 30;
    }
    """

    def __init__(self, store: Store, query: str = "", *, db: AsyncStore | None = None) -> None:
        super().__init__()
        self.store = store
        self.db = db  # the app's database thread, for a database only it can reach
        self.initial_query = query
        self.hits: list[SearchHit] = []
        self.shown_query: str | None = None  # the query the list shows results of
        self.searching_older = False  # the list shows part of the results; more to come
        self._requested: str | None = None  # the query last sent to the store
        self._pages = 0  # pages of the shown query listed so far
        self._enter_pending = False  # Enter came before the results: take the first
        self._timer: Timer | None = None
        # Bumped (on the UI thread) by every keystroke and every new query: the search
        # thread stops a query whose generation is no longer current, and pages that
        # were already on their way are dropped when they arrive.
        self._generation = 0
        self._jobs: queue.SimpleQueue[tuple[int, str] | None] = queue.SimpleQueue()
        self._thread_started = False
        # A private in-memory database (tests) exists only on its own connection, so it
        # is searched on that connection's thread (the app's database thread).
        self._in_thread = str(store.path) != ":memory:"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Input(self.initial_query, placeholder="Search every message…", id="search-query")
            yield Static(id="search-status")
            yield SearchResults(id="search-results")
            yield Static(id="search-progress")

    @property
    def query_input(self) -> Input:
        return self.query_one("#search-query", Input)

    @property
    def results(self) -> SearchResults:
        return self.query_one(SearchResults)

    @property
    def progress(self) -> Static:
        return self.query_one("#search-progress", Static)

    def on_mount(self) -> None:
        self.progress.display = False
        self.query_input.focus()
        self.run_search()

    def on_unmount(self) -> None:
        # Stop the search thread now (it also notices its worker being cancelled).
        self._generation += 1
        self._jobs.put(None)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._enter_pending = False
        # Cancel what is under way at once, not after the debounce: older pages of the
        # previous query must not keep arriving while the new one is typed.
        self._generation += 1
        self._requested = None
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DEBOUNCE, self.run_search, name="search-debounce")

    def run_search(self) -> None:
        """Search for what the box holds now (unless that is already under way)."""
        query = self.query_input.value
        if query == self._requested:
            return
        self._requested = query
        self._generation += 1
        if not query.strip():
            self.show_results(query, SearchPage([], None, None))
        elif self._in_thread:
            if not self._thread_started:
                self._thread_started = True
                self._search_thread()
            self._jobs.put((self._generation, query))
        elif self.db is not None:
            self._search_on_db_thread(self.db, query)
        else:
            self.show_results(query, self._search_all(self.store, query))

    @work(exclusive=True, group="search", exit_on_error=False)
    async def _search_on_db_thread(self, db: AsyncStore, query: str) -> None:
        self.show_results(query, await db.call(self._search_all, db.store, query))

    @staticmethod
    def _search_all(store: Store, query: str) -> SearchPage | Exception:
        try:
            return history.search_page(store, query, LIMIT, None, None)
        except Exception as exc:  # a locked or damaged database: say so, keep the box
            return exc

    @work(thread=True, exclusive=True, group="search", exit_on_error=False)
    def _search_thread(self) -> None:
        """The screen's search thread: takes queries from the job queue, one at a time,
        on one connection that lives (in this thread) as long as the screen."""
        worker = get_current_worker()
        store: Store | None = None
        try:
            while not worker.is_cancelled:
                try:
                    job = self._jobs.get(timeout=IDLE_POLL_S)
                except queue.Empty:
                    continue
                if job is None:
                    return
                generation, query = job
                if generation != self._generation:
                    continue  # typed over while it waited
                if store is None:
                    try:
                        store = Store(self.store.path)  # here: it belongs to this thread
                    except Exception as exc:  # a locked or damaged database: say so
                        self.post_message(self.PageFound(generation, query, exc, first=True))
                        continue
                self._search_pages(store, generation, query)
        finally:
            if store is not None:
                store.close()

    def _search_pages(self, store: Store, generation: int, query: str) -> None:
        """Post page after page of `query` until LIMIT hits, the oldest message, or a
        newer generation (a keystroke, the screen closing)."""
        found, before = 0, None
        while generation == self._generation:
            first = before is None
            try:
                page = history.search_page(
                    store, query, LIMIT - found, before, PAGE_BUDGET_S
                )
            except Exception as exc:  # a locked or damaged database: keep what was found
                self.post_message(self.PageFound(generation, query, exc, first))
                return
            # post_message is thread-safe and never waits for the UI.
            self.post_message(self.PageFound(generation, query, page, first))
            found += len(page.hits)
            if page.next_before is None or found >= LIMIT:
                return
            before = page.next_before

    def on_search_screen_page_found(self, message: PageFound) -> None:
        message.stop()
        if message.generation != self._generation:
            return  # a query the box has moved on from
        self.show_results(message.query, message.result, append=not message.first)

    def show_results(
        self, query: str, result: SearchPage | Exception, *, append: bool = False
    ) -> None:
        """List the hits of `query` (after those already listed, with `append`), unless
        the box has moved on to another query."""
        if not self.is_attached or query != self.query_input.value:
            return
        status = self.query_one("#search-status", Static)
        results = self.results
        if not append:
            self.shown_query = query
            self.hits = []
            self._pages = 0
            results.clear_options()
        self._pages += 1
        page = result if isinstance(result, SearchPage) else SearchPage([], None, None)
        new_hits = page.hits[: LIMIT - len(self.hits)]
        self.hits.extend(new_hits)
        if new_hits:
            style = results.get_component_rich_style("search-results--match", partial=True)
            results.add_options([Option(hit_label(hit, style)) for hit in new_hits])
            if results.highlighted is None:
                results.highlighted = 0
        self.searching_older = page.next_before is not None and len(self.hits) < LIMIT
        count = len(self.hits)
        messages = f"{count} message{'s' if count != 1 else ''}"
        if isinstance(result, Exception):
            status.update(Text(f"Search failed: {sanitize(str(result))}"))
        elif not query.strip():
            status.update("Type to search every message of every thread.")
        elif self.searching_older:
            status.update(f"{messages} so far" if count else "No matches so far.")
        elif not self.hits:
            status.update(Text(f"No messages match “{clean_line(query.strip())}”."))
        else:
            more = f" (the newest {LIMIT}; add words to narrow it down)" if count == LIMIT else ""
            status.update(f"{messages}{more}")
        self._show_progress(page if not isinstance(result, Exception) else None)
        if self._enter_pending and (self.hits or not self.searching_older):
            self._enter_pending = False
            self.choose(0)

    def _show_progress(self, page: SearchPage | None) -> None:
        """The dim line under the list: how far back a long search has got, and that it
        ended. Not shown for a search that was done in one page, nor after an error."""
        if page is None:
            text = ""
        elif self.searching_older and page.oldest_scanned_at is not None:
            day = local_date(page.oldest_scanned_at)
            text = f"Searched back to {day}… searching older messages"
        elif self.searching_older:
            text = "Searching older messages…"
        elif self._pages > 1 and len(self.hits) < LIMIT:
            text = "Searched all messages"
        else:
            text = ""
        self.progress.update(text)
        self.progress.display = bool(text)

    def action_move(self, step: int) -> None:
        results = self.results
        if not self.hits:
            return
        current = results.highlighted if results.highlighted is not None else -step
        results.highlighted = max(0, min(len(self.hits) - 1, current + step))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.shown_query == self.query_input.value and (self.hits or not self.searching_older):
            self.choose(self.results.highlighted or 0)
        else:
            # Enter before the results of what was typed (or before the first hit of a
            # search still going back): search now if needed, open the first hit.
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
