"""Pick one fenced code block of a message to copy (y in the transcript)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from tuichat.core.text import clean_line
from tuichat.ui.code_blocks import CodeBlock
from tuichat.ui.screens.picker import PickerScreen


def block_label(number: int, block: CodeBlock) -> Text:
    """"1  python  def main():" -- plain text; the code is untrusted."""
    label = Text(no_wrap=True, overflow="ellipsis")
    label.append(f"{number}  ", style="dim")
    label.append(clean_line(block.language) or "text", style="bold")
    lines = block.code.count("\n") + 1
    label.append(f"  {lines} line{'s' if lines != 1 else ''}  ", style="dim")
    label.append(clean_line(block.first_line))
    return label


class CodePicker(PickerScreen[CodeBlock]):
    """The code blocks of one message by language and first line; dismisses with the
    chosen block, or None on Escape."""

    DEFAULT_CSS = """
    CodePicker > Vertical {
        width: 80;
    }
    """

    def __init__(self, blocks: list[CodeBlock]) -> None:
        super().__init__()
        self.blocks = blocks

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Copy which code block?")
            yield OptionList(
                *(Option(block_label(n, block)) for n, block in enumerate(self.blocks, 1)),
                id="code-blocks",
            )

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.blocks[event.option_index])
