"""The slash-command parser and completer (pure functions)."""

from __future__ import annotations

import pytest

from tuichat.commands import COMMANDS, Command, CommandError, Completion, SendText, command_list, complete, parse


@pytest.mark.parametrize(
    "text, expected",
    [
        ("hello", SendText("hello")),
        ("a /slash inside", SendText("a /slash inside")),
        ("//etc is a folder", SendText("/etc is a folder")),
        ("///", SendText("//")),
        ("/new", Command("new")),
        ("/new ojousama", Command("new", "ojousama")),
        ("/reset", Command("reset")),
        ("/RESET", Command("reset")),
        ("/persona diary", Command("persona", "diary")),
        ("/persona", Command("persona")),
        ("/model qwen3:8b", Command("model", "qwen3:8b")),
        ("/title  My   日本語 title ", Command("title", "My 日本語 title")),
        ("/title first\nsecond", Command("title", "first second")),
        ("/export", Command("export")),
        ("/export JSON", Command("export", "json")),
        ("/search wal mode", Command("search", "wal mode")),
        ("/help", Command("help")),
        ("/help ", Command("help")),
    ],
)
def test_parse(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text, words",
    [
        ("/frobnicate now", ["Unknown command /frobnicate", "Nothing was sent", "/model NAME", "/help"]),
        ("/", ["Unknown command /", "/reset"]),
        ("/usr/bin/env python", ["Unknown command /usr/bin/env"]),
        ("/reset now", ["takes no argument"]),
        ("/title", ["needs an argument", "/title TEXT"]),
        ("/title   ", ["needs an argument"]),
        ("/model two words", ["one name"]),
        ("/export pdf", ["unknown choice 'pdf'", "md|json"]),
    ],
)
def test_parse_errors(text, words):
    result = parse(text)
    assert isinstance(result, CommandError)
    for word in words:
        assert word in result.message


def test_command_list_names_every_command_and_the_escape():
    listing = command_list()
    for spec in COMMANDS:
        assert f"/{spec.name}" in listing
    assert "//" in listing


@pytest.mark.parametrize(
    "text, expected",
    [
        ("/mo", Completion("/model ", ["model"])),
        ("/he", Completion("/help", ["help"])),  # no argument: no trailing space
        ("/", Completion("/", sorted(s.name for s in COMMANDS))),
        ("/zz", Completion(None, [])),
        ("/persona oj", Completion("/persona ojousama", ["ojousama"])),
        ("/new d", Completion("/new d", ["default", "diary"])),
        ("/new di", Completion("/new diary", ["diary"])),
        ("/model gpt", Completion("/model gpt-4o", ["gpt-4o", "gpt-4o-mini"])),
        ("/export j", Completion("/export json", ["json"])),
    ],
)
def test_complete(text, expected):
    assert complete(text, personas=["default", "diary", "ojousama"], models=["gpt-4o", "gpt-4o-mini", "qwen3"]) == expected


@pytest.mark.parametrize("text", ["hello", "//x", "/title so", "/model a b", "/reset x", "/mo\nx"])
def test_complete_leaves_other_text_alone(text):
    assert complete(text, personas=["a"], models=["b"]) is None


@pytest.mark.parametrize(
    "title, expected",
    [
        ("WAL mode in SQLite?", "WAL-mode-in-SQLite.md"),
        ("日本語のタイトル", "日本語のタイトル.md"),
        ("../../etc/passwd", "etc-passwd.md"),
        ("", "thread-7.md"),
        ("???", "thread-7.md"),
    ],
)
def test_export_filename(title, expected):
    from tuichat.commands import export_filename

    assert export_filename(title, 7, "md") == expected


def test_parser_and_session_import_no_ui():
    import subprocess
    import sys

    code = (
        "import sys, tuichat.commands, tuichat.session; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
