"""Reading TOML files that users write by hand (config.toml, persona files).

Every problem becomes one line, "FILE:LINE: problem", raised as the caller's error class,
so the CLI can print it without a traceback. Shared by config and personas so both report
errors the same way.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuichat.core.errors import UsageError
from tuichat.core.files import TOML_LIMIT, read_regular_file

# Python 3.11's TOMLDecodeError carries its position only inside the message.
_POSITION = re.compile(r"\s*\(at line (\d+), column \d+\)\s*$")
_AT_END = re.compile(r"\s*\(at end of document\)\s*$")
_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def where(path: Path | str, line: int | None) -> str:
    """"path:line", or just "path" when the line is unknown."""
    return f"{path}:{line}" if line else str(path)


def _key_pattern(key: str) -> re.Pattern[str]:
    # A key may be bare or quoted: model = ..., "model" = ..., 'model' = ...
    k = re.escape(key)
    return re.compile(rf"""^\s*(?:{k}|"{k}"|'{k}')\s*=""")


def _header_name(line: str) -> str | None:
    match = _HEADER.match(line)
    if not match:
        return None
    return ".".join(part.strip().strip("\"'") for part in match.group(1).split("."))


def _code_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) for lines that are not inside a multi-line string, so a key
    name written inside a long system prompt is never mistaken for the key itself."""
    result: list[tuple[int, str]] = []
    open_quote: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if open_quote is None:
            result.append((number, line))
            scan = line
        else:
            if open_quote not in line:
                continue
            scan = line.split(open_quote, 1)[1]
            open_quote = None
        # Toggle for every triple quote on the line; an odd count leaves one open.
        for quote in re.findall(r'"""|\'\'\'', scan):
            if open_quote is None:
                open_quote = quote
            elif quote == open_quote:
                open_quote = None
    return result


def line_of(text: str, key: str | None, table: str | None = None) -> int | None:
    """The 1-based line where `key` is set, or None when it cannot be found.

    `table=None` searches the top level (before any [header]). With a table, the key is
    looked for inside `[table]`; `key=None` finds the table itself. Falls back to the
    line that opens the table (its header, or `table = {...}` for an inline table), since
    pointing near the problem beats pointing nowhere.
    """
    section: str | None = None
    table_line: int | None = None
    dotted = _key_pattern(f"{table}.{key}") if table and key else None
    pattern = _key_pattern(key) if key else None
    table_pattern = _key_pattern(table) if table else None
    for number, line in _code_lines(text):
        name = _header_name(line)
        if name is not None:
            section = name
            if table is not None and name == table and table_line is None:
                table_line = number
            continue
        if section == table and pattern and pattern.match(line):
            return number
        if section is None and table is not None:
            if dotted and dotted.match(line):
                return number
            if table_pattern and table_pattern.match(line) and table_line is None:
                table_line = number
    return table_line if table is not None else None


@dataclass
class TomlDoc:
    """A parsed file plus its text, so later checks can point at the offending line."""

    path: Path
    text: str
    data: dict[str, Any]
    error: type[UsageError]
    title: str

    def fail(self, problem: str, key: str | None = None, table: str | None = None) -> UsageError:
        """An error (to raise) saying "path:line: problem", the line found from key/table."""
        line = line_of(self.text, key, table) if (key or table) else None
        return self.error(self.title, f"{where(self.path, line)}: {problem}")


def read_toml(path: Path, error: type[UsageError], title: str = "Invalid file") -> TomlDoc:
    """Read and parse `path`; any failure raises `error(title, "path[:line]: problem")`.

    Only a regular file of at most TOML_LIMIT bytes is read (core/files.py)."""
    raw = read_regular_file(path, TOML_LIMIT, error, title)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise error(title, f"{where(path, line)}: not valid UTF-8; save the file as UTF-8") from None
    try:
        data = tomllib.loads(text)
    except RecursionError:  # tomllib recurses once per level of [[[...]]] or {a={b=...}}
        raise error(title, f"{path}: invalid TOML: arrays or tables nested too deeply") from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        line: int | None = getattr(exc, "lineno", None)  # Python 3.14+ has it
        if match := _POSITION.search(message):
            line = line or int(match.group(1))
            message = message[: match.start()]
        elif match := _AT_END.search(message):
            line = line or max(1, len(text.splitlines()))
            message = message[: match.start()] + " at end of file"
        raise error(title, f"{where(path, line)}: invalid TOML: {message}") from None
    return TomlDoc(path=path, text=text, data=data, error=error, title=title)


def load_toml(path: Path, error: type[UsageError], title: str = "Invalid file") -> dict[str, Any]:
    """Parse `path` into a dict; failures raise `error` with a "path:line: problem" detail."""
    return read_toml(path, error, title).data


def type_name(value: object) -> str:
    """TOML's word for a parsed value's type, for "expected X, got Y" messages."""
    return {
        bool: "boolean",
        int: "integer",
        float: "float",
        str: "string",
        list: "array",
        dict: "table",
    }.get(type(value), type(value).__name__)
