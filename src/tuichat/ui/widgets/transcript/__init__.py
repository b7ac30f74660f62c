"""The transcript: one thread's messages as a single line-API widget (see widget.py)."""

from tuichat.ui.widgets.transcript.entries import LENGTH, OLDER_PAGE, OlderLoader, Shown
from tuichat.ui.widgets.transcript.render import markdown
from tuichat.ui.widgets.transcript.widget import Transcript

__all__ = ["LENGTH", "OLDER_PAGE", "OlderLoader", "Shown", "Transcript", "markdown"]
