"""The incremental Markdown block splitter (core/blocks.py)."""

from __future__ import annotations

import random

import pytest

from tuichat.core.blocks import BlockSplitter


def split_all(text: str) -> list[str]:
    splitter = BlockSplitter()
    return splitter.feed(text) + splitter.finish()


def split_chunks(chunks: list[str]) -> list[str]:
    splitter = BlockSplitter()
    blocks: list[str] = []
    for chunk in chunks:
        blocks += splitter.feed(chunk)
    return blocks + splitter.finish()


DOC = """# Heading

First paragraph
with a soft break.

```python
def f():

    return 1


x = f()
```

~~~
tilde fence

``` not a closer inside a tilde fence
~~~

- one
- two

- three, loose

  continued paragraph of three

1. first
2. second

3. third

| a | b |
|---|---|
| 1 | 2 |

| 3 | 4 |

> a quote

こんにちは世界🎌 の段落。

    indented code

    more indented code

Last line without newline"""

EXPECTED = [
    "# Heading",
    "First paragraph\nwith a soft break.",
    "```python\ndef f():\n\n    return 1\n\n\nx = f()\n```",
    "~~~\ntilde fence\n\n``` not a closer inside a tilde fence\n~~~",
    "- one\n- two\n\n- three, loose\n\n  continued paragraph of three",
    "1. first\n2. second\n\n3. third",
    "| a | b |\n|---|---|\n| 1 | 2 |\n\n| 3 | 4 |",
    "> a quote",
    "こんにちは世界🎌 の段落。\n\n    indented code\n\n    more indented code",
    "Last line without newline",
]


def test_document_splits_into_expected_blocks() -> None:
    assert split_all(DOC) == EXPECTED


def test_paragraphs_finish_only_when_the_next_block_starts() -> None:
    splitter = BlockSplitter()
    assert splitter.feed("one\n") == []
    assert splitter.feed("\n") == []  # the next line could still continue a list/table
    assert splitter.tail == "one"
    assert splitter.feed("two") == ["one"]
    assert splitter.tail == "two"
    assert splitter.finish() == ["two"]


def test_tail_shows_the_partial_line() -> None:
    splitter = BlockSplitter()
    splitter.feed("Hello wor")
    assert splitter.tail == "Hello wor"
    splitter.feed("ld\nsecond li")
    assert splitter.tail == "Hello world\nsecond li"
    # The first character of the next block already finishes this one.
    assert splitter.feed("ne\n\nNex") == ["Hello world\nsecond line"]
    assert splitter.tail == "Nex"


def test_undecided_next_line_stays_in_the_tail() -> None:
    splitter = BlockSplitter()
    # "-" may become "- c" (same list) or "---" (a rule): not decided yet, but shown.
    assert splitter.feed("- a\n- b\n\n-") == []
    assert splitter.tail == "- a\n- b\n\n-"
    # "1" cannot become an item of a "-" list: decided at once.
    assert splitter.feed(" c\n\n1") == ["- a\n- b\n\n- c"]
    assert splitter.tail == "1"


def test_ordered_list_decided_from_the_marker() -> None:
    splitter = BlockSplitter()
    assert splitter.feed("1. a\n\n2") == []
    assert splitter.feed(". b\n\n3) c") == ["1. a\n\n2. b"]


def test_fence_with_blank_lines_stays_open_until_closed() -> None:
    splitter = BlockSplitter()
    assert splitter.feed("```js\nlet a = 1;\n\n\nlet b = 2;\n\n") == []
    assert splitter.feed("```\n\nafter") == ["```js\nlet a = 1;\n\n\nlet b = 2;\n\n```"]


def test_fence_needs_same_char_and_at_least_the_opening_length() -> None:
    text = "````\n```\n\n~~~\n\ninside\n````\n\nafter"
    assert split_all(text) == ["````\n```\n\n~~~\n\ninside\n````", "after"]


def test_backtick_fence_info_may_not_contain_backticks() -> None:
    # "```inline``` code" is inline code, not a fence, so the blank line ends the block.
    assert split_all("```inline``` code\n\nnext") == ["```inline``` code", "next"]


def test_indented_fence_in_a_list_item() -> None:
    text = "- item\n\n  ```\n  code\n\n  more\n  ```\n\nafter"
    assert split_all(text) == ["- item\n\n  ```\n  code\n\n  more\n  ```", "after"]


def test_unclosed_fence_is_flushed_by_finish() -> None:
    splitter = BlockSplitter()
    assert splitter.feed("```\ncode\n\n") == []
    assert splitter.finish() == ["```\ncode\n"]  # the blank line is fence content


def test_list_of_another_kind_starts_a_new_block() -> None:
    assert split_all("- a\n\n* b\n\n1. c\n\n2) d") == ["- a", "* b", "1. c", "2) d"]


def test_paragraph_after_a_list_starts_a_new_block() -> None:
    assert split_all("- a\n- b\n\nText\n\n- c") == ["- a\n- b", "Text", "- c"]


def test_list_after_paragraph_without_blank_line_keeps_list_kind() -> None:
    assert split_all("Intro:\n- a\n\n- b\n\nEnd") == ["Intro:\n- a\n\n- b", "End"]


def test_table_followed_by_paragraph() -> None:
    text = "| h |\n|---|\n| 1 |\n\nText"
    assert split_all(text) == ["| h |\n|---|\n| 1 |", "Text"]


def test_leading_and_repeated_blank_lines_are_dropped() -> None:
    assert split_all("\n\n  \none\n\n\n\n\ntwo\n\n") == ["one", "two"]


def test_crlf_and_lone_cr() -> None:
    assert split_all("a\r\n\r\nb\rc\r\n\r\nd") == ["a", "b\nc", "d"]


def test_crlf_split_across_pieces() -> None:
    assert split_chunks(["a\r", "\n\r", "\n", "b\r"]) == ["a", "b"]
    # A lone CR at the very end is a line break, not lost.
    splitter = BlockSplitter()
    splitter.feed("x\r")
    assert splitter.finish() == ["x"]


def test_japanese_and_emoji_blocks() -> None:
    assert split_all("日本語の段落。\n\n## 見出し🎌\n\n- 項目一\n- 項目二") == [
        "日本語の段落。",
        "## 見出し🎌",
        "- 項目一\n- 項目二",
    ]


def test_char_by_char_gives_the_same_blocks() -> None:
    assert split_chunks(list(DOC)) == EXPECTED


@pytest.mark.parametrize("seed", range(20))
def test_random_chunk_boundaries_give_the_same_blocks(seed: int) -> None:
    rng = random.Random(seed)
    text = DOC.replace("\n", "\r\n") if seed % 2 else DOC
    chunks, i = [], 0
    while i < len(text):
        n = rng.randint(1, 12)
        chunks.append(text[i : i + n])
        i += n
    assert split_chunks(chunks) == EXPECTED


def test_blocks_come_out_as_soon_as_they_are_finished() -> None:
    splitter = BlockSplitter()
    seen: list[tuple[int, str]] = []
    for i, char in enumerate(DOC):
        for block in splitter.feed(char):
            seen.append((i, block))
    # Each block is returned by the first character of the next block, not later.
    starts = [DOC.index(block) for block in EXPECTED[1:]]
    assert [i for i, _ in seen] == starts
    assert [block for _, block in seen] == EXPECTED[:-1]


def test_each_line_is_scanned_once() -> None:
    # Feeding char by char must not rescan the reply: one line-scan per line of input.
    splitter = BlockSplitter()
    calls = 0
    line = splitter._line

    def counting(text: str, done: list[str]) -> None:
        nonlocal calls
        calls += 1
        line(text, done)

    splitter._line = counting  # type: ignore[method-assign]
    text = DOC * 5
    for char in text:
        splitter.feed(char)
    splitter.finish()
    assert calls == text.count("\n") + 1
