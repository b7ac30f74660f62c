"""The reference for bench/startup.py: a bare Textual app with what every chat screen has
(a header, some text, a text area and a footer), started the same way as tuichat.

tuichat's start-up budget is a ratio to this app measured in the same run: the boxes we
measure on differ by 2x, so only a ratio says how close tuichat is to Textual's floor.
"""

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, Static, TextArea


class BareApp(App[None]):
    BINDINGS = [Binding("ctrl+q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("A bare Textual app: the start-up reference for tuichat.")
        yield TextArea()
        yield Footer()


if __name__ == "__main__":
    BareApp().run()
