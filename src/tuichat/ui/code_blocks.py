"""Fenced code blocks of a Markdown message, for copying one of them.

Parsed with the transcript's own markdown-it parser, so what counts as a code block here is
exactly what the transcript draws as one: a ``` fence inside a longer ```` fence,
or one inside a list item, is found the same way it is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass



@dataclass(frozen=True)
class CodeBlock:
    """One fenced code block: its language (may be "") and its code, without the fences."""

    language: str
    code: str

    @property
    def first_line(self) -> str:
        """The first non-blank line of the code, stripped (for listing blocks)."""
        for line in self.code.splitlines():
            if line.strip():
                return line.strip()
        return ""


def code_blocks(markdown: str) -> list[CodeBlock]:
    """Every fenced code block of `markdown`, in order.

    The code keeps its indentation but loses the final newline the fence implies, so
    pasting it into a shell does not run it at once.
    """
    from tuichat.ui.markdown_doc import PARSER  # loaded when first needed, not at start-up

    blocks = []
    for token in PARSER.parse(markdown):
        if token.type == "fence":
            language = token.info.split()[0] if token.info.strip() else ""
            code = token.content[:-1] if token.content.endswith("\n") else token.content
            blocks.append(CodeBlock(language, code))
    return blocks
