"""Markdown documents for the transcript, and the one markdown-it parser they share.

Imported when the first Markdown is drawn (or by the warm-up after the first frame), never
at start-up: rich.markdown, markdown-it and pygments cost more than a tenth of tuichat's
start-up, and an empty thread draws no Markdown.
"""

from __future__ import annotations

from copy import copy

from markdown_it import MarkdownIt
from rich.markdown import Markdown

# rich's Markdown builds a new MarkdownIt parser for every instance, which costs more than
# parsing a typical block. One parser, configured as rich configures it, is shared; a test
# checks the output matches rich's own.
PARSER = MarkdownIt().enable("strikethrough").enable("table")
_TEMPLATES: dict[str, Markdown] = {}


def markdown(text: str, code_theme: str) -> Markdown:
    """A rich Markdown for `text` (already sanitized), without building a parser."""
    template = _TEMPLATES.get(code_theme)
    if template is None:
        # hyperlinks=False: a link shows its address, so a link cannot hide where it goes.
        template = Markdown("", code_theme=code_theme, hyperlinks=False)
        _TEMPLATES[code_theme] = template
    document = copy(template)
    document.markup = text
    document.parsed = PARSER.parse(text)
    return document


def warm_up() -> None:
    """Load what the first reply's drawing needs (called in a worker thread): the parser's
    rules, and rich's syntax highlighting with pygments' lexer table."""
    markdown("# warm\n\n`code`\n\n```python\npass\n```\n", "monokai")
    from rich.syntax import Syntax  # noqa: F401 - loads pygments' styles and lexers

    Syntax("pass", "python")
