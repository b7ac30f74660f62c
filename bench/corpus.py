"""Generated Markdown replies for benchmarks: prose, lists, code, tables, Japanese, emoji.

Deterministic for a given seed, so runs compare like with like. About 5.5 characters per
token, which is what local models average on English Markdown.
"""

from __future__ import annotations

import random

CHARS_PER_TOKEN = 5.5

_WORDS = (
    "the of and to in is that for it as with was on be by this are or from at which "
    "stream render frame block widget token reply model latency buffer cache layout "
    "terminal width height scroll cursor paragraph heading table list fence parser "
    "incremental quadratic linear budget measure profile compositor segment strip"
).split()
_JAPANESE = ["こんにちは世界", "日本語のテキスト", "東京は晴れです", "ありがとう", "漢字とかな"]
_EMOJI = ["🎌", "🚀", "✨", "🐍", "📦"]
_CODE = {
    "python": [
        "def render(blocks: list[str], width: int) -> list[str]:",
        '    """Render each block once."""',
        "    lines = []",
        "    for block in blocks:",
        "        if not block.strip():",
        "            continue",
        "        lines.extend(wrap(block, width))",
        "",
        "    return lines  # cached per width",
        "class Cache(dict):",
        "    def __missing__(self, key):",
        "        value = self[key] = compute(key)",
        "        return value",
    ],
    "javascript": [
        "function render(blocks, width) {",
        "  const lines = [];",
        "  for (const block of blocks) {",
        "    if (!block.trim()) continue;",
        "    lines.push(...wrap(block, width));",
        "  }",
        "",
        "  return lines; // cached per width",
        "}",
        "const cache = new Map();",
    ],
}


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(6, 16))]
    roll = rng.random()
    if roll < 0.15:
        words.insert(rng.randrange(len(words)), rng.choice(_JAPANESE))
    elif roll < 0.25:
        words.insert(rng.randrange(len(words)), rng.choice(_EMOJI))
    elif roll < 0.4:
        words.insert(rng.randrange(len(words)), f"`{rng.choice(_WORDS)}()`")
    elif roll < 0.5:
        i = rng.randrange(len(words))
        words[i] = f"**{words[i]}**"
    text = " ".join(words)
    return text[0].upper() + text[1:] + "."


def _paragraph(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(1, 3)))


def _block(rng: random.Random) -> str:
    kind = rng.choices(
        ["para", "heading", "bullets", "loose", "numbered", "code", "table", "quote"],
        weights=[40, 8, 10, 4, 6, 12, 5, 3],
    )[0]
    if kind == "heading":
        return "#" * rng.randint(2, 3) + " " + _sentence(rng)[:-1]
    if kind == "bullets":
        return "\n".join(f"- {_sentence(rng)}" for _ in range(rng.randint(2, 5)))
    if kind == "loose":
        return "\n\n".join(f"* {_sentence(rng)}" for _ in range(rng.randint(2, 4)))
    if kind == "numbered":
        return "\n".join(f"{i}. {_sentence(rng)}" for i in range(1, rng.randint(3, 6)))
    if kind == "code":
        lang = rng.choice(sorted(_CODE))
        source = _CODE[lang]
        start = rng.randrange(len(source))
        lines = [source[(start + i) % len(source)] for i in range(rng.randint(4, 12))]
        return f"```{lang}\n" + "\n".join(lines) + "\n```"
    if kind == "table":
        rows = ["| name | value | note |", "|---|---:|---|"]
        for _ in range(rng.randint(2, 6)):
            note = rng.choice(_JAPANESE + _WORDS)
            rows.append(f"| {rng.choice(_WORDS)} | {rng.randint(1, 9999)} | {note} |")
        return "\n".join(rows)
    if kind == "quote":
        return "> " + _paragraph(rng)
    return _paragraph(rng)


def markdown_reply(tokens: int, seed: int = 0) -> str:
    """A Markdown reply of about `tokens` tokens (5.5 characters each).

    It starts with a plain word ("Here") so a benchmark can spot the first token on
    screen, and mixes prose, headings, tight and loose lists, fenced code with blank
    lines, tables, quotes, Japanese and emoji.
    """
    rng = random.Random(seed)
    target = int(tokens * CHARS_PER_TOKEN)
    parts = ["Here is what I found. " + _paragraph(rng)]
    size = len(parts[0])
    while size < target:
        block = _block(rng)
        parts.append(block)
        size += len(block) + 2
    return "\n\n".join(parts)


def split_tokens(text: str, seed: int = 0) -> list[str]:
    """Cut text into token-sized pieces (1 to 10 characters, 5.5 on average)."""
    rng = random.Random(seed)
    pieces = []
    i = 0
    while i < len(text):
        n = rng.randint(1, 10)
        pieces.append(text[i : i + n])
        i += n
    return pieces
