"""`tuichat --web` in a real browser: Playwright drives Debian's Chromium (browser downloads
are not available here; `.ci/run` installs `chromium` and the fonts). A message with
Japanese in it, the streamed reply, Ctrl+R, and a second tab that lists the first
thread; Ctrl+Q in that tab ends its app only.

The terminal in the page is drawn on a canvas, so what the app draws is read from a
Textual screenshot taken in the tab (the palette's "Screenshot": an SVG, delivered to the
browser by textual-serve, which holds the screen's text), from the bytes textual-serve
sends to the page over its websocket (what xterm.js paints; for waiting), and what it did
from the database. The page is saved as a PNG in the test's tmp_path; with
TUICHAT_UPDATE_DOCS=1 it also becomes docs/web.png, the README's screenshot.

    pytest tests/test_web_browser.py -q
"""

from __future__ import annotations

import html
import os
import re
import shutil
from pathlib import Path

import pytest

from fake_openai import Reply
from tuichat.store import Store
from webhelpers import API_KEY, WAIT, WebServer, env_for, need_textual_serve, wait_until

CHROMIUM = Path("/usr/bin/chromium")
DOCS_PNG = Path(__file__).resolve().parents[1] / "docs" / "web.png"
QUESTION = "東京の天気は？ 🌸"
ANSWER = "東京は晴れです 🌞 A clear sky over Tokyo, 気温は18度。"


def need_browser() -> None:
    """CI installs Chromium (.ci/run): there, a missing browser fails instead of skipping."""
    in_ci = os.environ.get("CI", "").lower() == "true"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        if in_ci:
            pytest.fail("playwright is not installed: pip install -e '.[test]'")
        pytest.skip("playwright is not installed: pip install -e '.[test]'")
    if not CHROMIUM.exists():
        if in_ci:
            pytest.fail(f"{CHROMIUM} is missing; .ci/run installs it (apt-get install chromium fonts-noto-cjk)")
        pytest.skip(f"needs {CHROMIUM}: apt-get install chromium fonts-noto-cjk fonts-noto-color-emoji")
    need_textual_serve()


class Screen:
    """Everything the app in one page has drawn: the bytes of the page's websocket."""

    def __init__(self, page) -> None:  # noqa: ANN001
        self.data = bytearray()
        self.page = page
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload) -> None:  # noqa: ANN001
        if isinstance(payload, bytes):
            self.data.extend(payload)

    def text(self) -> str:
        return bytes(self.data).decode("utf-8", "replace")

    def wait_for(self, text: str) -> None:
        wait_until(lambda: text in self.text(), f"{text!r} drawn in the page", pause=self.pause)

    def pause(self, seconds: float) -> None:
        self.page.wait_for_timeout(seconds * 1000)  # Playwright delivers the frames meanwhile


def threads(db: Path) -> list[tuple[str, list[tuple[str, str, str]]]]:
    if not db.exists():
        return []
    with Store(db) as store:
        return [(t.title, [(m.role, m.status, m.content) for m in store.messages(t.id)])
                for t in reversed(store.list_threads())]  # oldest first


def painted(page) -> None:  # noqa: ANN001
    """Two animation frames: what arrived has been painted on the canvas."""
    page.evaluate("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")


def textual_screenshot(page) -> str:  # noqa: ANN001
    """The palette's "Screenshot" command in the tab: Textual renders its screen as an SVG,
    and textual-serve hands it to the browser, which opens it in a new tab."""
    page.keyboard.press("Control+p")
    page.keyboard.type("Screenshot")
    with page.context.expect_event("response", lambda response: "/download/" in response.url) as delivered:
        page.keyboard.press("Enter")
    response = delivered.value
    assert response.ok and response.headers["content-type"].startswith("image/svg+xml")
    return response.text()


def svg_text(svg: str) -> str:
    """The text of a Textual SVG screenshot, row by row: each <text> span sits at its
    cell's x and its row's y; spaces are written as no-break spaces."""
    rows: dict[float, list[tuple[float, str]]] = {}
    for x, y, span in re.findall(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>', svg):
        rows.setdefault(float(y), []).append((float(x), html.unescape(span)))
    return "\n".join("".join(t for _, t in sorted(spans)).replace("\xa0", " ") for _, spans in sorted(rows.items()))


def test_a_browser_tab_chats_resets_and_a_second_tab_lists_the_thread(tmp_path, fake_server):
    need_browser()
    from playwright.sync_api import sync_playwright

    fake_server.script(Reply.text(ANSWER, chunk_size=3, delay=0.02), Reply.text("A fresh start."))
    db = tmp_path / "h.db"
    server = WebServer(["--port", "0", "--db", str(db)], env_for(tmp_path, fake_server.base_url))
    try:
        url = server.url()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
            try:
                context = browser.new_context(viewport={"width": 1200, "height": 640})
                context.set_default_timeout(WAIT * 1000)
                page = context.new_page()
                screen = Screen(page)
                page.goto(url)
                assert page.title() == "tuichat"
                page.wait_for_selector(".textual-terminal canvas")
                page.wait_for_selector("body.-first-byte")
                screen.wait_for("Quit")  # the app's first screen

                page.focus(".xterm-helper-textarea")  # where xterm.js takes the keys
                page.keyboard.type(QUESTION)
                page.keyboard.press("Enter")
                wait_until(lambda: fake_server.chat_requests, "the request at the fake server", pause=screen.pause)
                assert fake_server.chat_requests[0].json["messages"][-1]["content"] == QUESTION
                wait_until(lambda: threads(db) == [(QUESTION, [("user", "done", QUESTION),
                                                               ("assistant", "done", ANSWER)])],
                           "the reply saved", pause=screen.pause)
                screen.wait_for("A clear sky over Tokyo")  # the streamed reply, drawn
                drawn = svg_text(textual_screenshot(page))  # the app's own picture of its screen
                assert QUESTION in drawn and "A clear sky over Tokyo" in drawn
                painted(page)
                shot = tmp_path / "web.png"
                page.screenshot(path=str(shot))
                assert shot.stat().st_size > 10_000
                if os.environ.get("TUICHAT_UPDATE_DOCS") == "1":
                    DOCS_PNG.parent.mkdir(exist_ok=True)
                    shutil.copyfile(shot, DOCS_PNG)

                page.keyboard.press("Control+r")  # reset: a fresh thread
                screen.wait_for("Started a fresh thread")
                page.keyboard.type("second thread")
                page.keyboard.press("Enter")
                wait_until(lambda: [t for t, _ in threads(db)] == [QUESTION, "second thread"],
                           "the fresh thread saved beside the first", pause=screen.pause)
                assert threads(db)[0][1] == [("user", "done", QUESTION), ("assistant", "done", ANSWER)]

                second = context.new_page()
                second_screen = Screen(second)
                second.goto(url)
                second_screen.wait_for("Quit")
                second_screen.wait_for("東京の天気は")  # the first thread, in the second tab's list
                assert API_KEY not in screen.text() + second_screen.text()

                second.focus(".xterm-helper-textarea")
                second.keyboard.press("Control+q")  # ends the second tab's app only
                second.wait_for_selector("body.-closed")
                assert server.proc.poll() is None
                page.keyboard.type("still here")
                screen.wait_for("still here")  # the first tab's app goes on
            finally:
                browser.close()
    finally:
        server.close()
