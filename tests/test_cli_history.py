"""`tuichat threads|search|export|import` through a real subprocess, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tuichat.cli.history import format_hits
from tuichat.store import Store
from tuichat.transfer.export import dumps, thread_to_json


def tuichat(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    # os.environ carries the temporary XDG dirs set by the autouse isolated_dirs fixture.
    return subprocess.run(
        [sys.executable, "-m", "tuichat", *args],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A database with two threads; the second was active last."""
    path = tmp_path / "history.db"
    ticks = iter(range(1_700_000_000, 1_700_001_000, 60))
    with Store(path, clock=lambda: float(next(ticks))) as store:
        first = store.create_thread("default", "m1")
        store.add_message(first.id, "user", "Plans for 東京タワー?")
        store.add_message(first.id, "assistant", "Go at night.\nThe view is lovely.", model="m1")
        second = store.create_thread("ojousama", "m2")
        store.add_message(second.id, "user", "Tell me about cats")
        store.add_message(second.id, "assistant", "Cats are lovely, ですわ。", model="m2")
    return str(path)


def test_shared_options_may_come_before_the_command(db: str) -> None:
    assert tuichat("--db", db, "threads").stdout == tuichat("threads", "--db", db).stdout
    result = tuichat(f"--db={db}", "search", "cats")
    assert result.returncode == 0 and "Tell me about cats" in result.stdout
    # A value that happens to be a command name is still the option's value.
    from tuichat.cli.main import history_first

    assert history_first(["--db", "threads", "-c"]) == ["--db", "threads", "-c"]
    assert history_first(["-p", "search"]) == ["-p", "search"]


def test_threads_lists_one_aligned_line_per_thread_newest_first(db: str) -> None:
    result = tuichat("threads", "--db", db)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].split()[0] == "2" and lines[0].endswith("Tell me about cats")
    assert lines[1].split()[0] == "1" and lines[1].endswith("Plans for 東京タワー?")
    assert "ojousama" in lines[0] and "default" in lines[1]
    # the title column starts at the same place on every line
    assert lines[0].index("Tell") == lines[1].index("Plans")
    assert tuichat("threads", "--db", db, "--limit", "1").stdout.count("\n") == 1


def test_search_prints_hits_plain_when_not_a_terminal(db: str) -> None:
    result = tuichat("search", "lovely", "--db", db)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout
    lines = result.stdout.splitlines()
    assert len(lines) == 4  # two hits, two lines each
    assert lines[0].split()[0] == "2" and "assistant" in lines[0] and "Tell me about cats" in lines[0]
    assert lines[1].strip() == "Cats are lovely, ですわ。"
    assert lines[3].strip() == "Go at night. The view is lovely."
    two_terms = tuichat("search", "lovely", "night", "--db", db)
    assert two_terms.stdout.count("\n") == 2
    short = tuichat("search", "東京", "--db", db, "--limit", "5")
    assert "Plans for 東京タワー?" in short.stdout


def test_search_without_matches_says_so_on_stderr(db: str) -> None:
    result = tuichat("search", "zebra", "--db", db)
    assert result.returncode == 0 and result.stdout == ""
    assert "zebra" in result.stderr


def test_bold_highlighting_is_only_around_the_matches() -> None:
    from tuichat.core.models import SearchHit

    hit = SearchHit(1, 1, "t", "default", "user", "a cat and a cat", [(2, 5), (12, 15)], 0.0)
    (_, plain) = format_hits([hit], bold=False)
    (_, bold) = format_hits([hit], bold=True)
    assert plain.strip() == "a cat and a cat"
    assert bold.strip() == "a \x1b[1mcat\x1b[22m and a \x1b[1mcat\x1b[22m"


def test_export_markdown_and_json_to_stdout_and_to_a_file(db: str, tmp_path: Path) -> None:
    md = tuichat("export", "1", "--db", db)
    assert md.returncode == 0, md.stderr
    assert md.stdout.startswith("# Plans for 東京タワー?\n")
    assert "## You · " in md.stdout and "## Assistant (m1) · " in md.stdout

    as_json = tuichat("export", "2", "--format", "json", "--db", db)
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["thread"]["persona"] == "ojousama"
    assert [(m["role"], m["content"]) for m in data["messages"]] == [
        ("user", "Tell me about cats"), ("assistant", "Cats are lovely, ですわ。")]

    out = tmp_path / "out.md"
    to_file = tuichat("export", "1", "-o", str(out), "--db", db)
    assert to_file.returncode == 0 and to_file.stdout == ""
    assert out.read_text(encoding="utf-8") == md.stdout


def test_export_of_a_missing_thread_is_a_usage_error(db: str) -> None:
    result = tuichat("export", "99", "--db", db)
    assert result.returncode == 2
    assert "99" in result.stderr and "Traceback" not in result.stderr


def test_import_reports_and_is_idempotent(db: str, tmp_path: Path) -> None:
    with Store(db) as store:
        thread = store.get_thread(1)
        export = tmp_path / "one.json"
        export.write_text(dumps(thread_to_json(thread, store.messages(1))), encoding="utf-8")
    target = str(tmp_path / "target.db")
    first = tuichat("import", str(export), "--db", target)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "Imported 1 thread (2 messages); skipped 0 already imported.\n"
    second = tuichat("import", str(export), "--db", target)
    assert second.stdout == "Imported 0 threads (0 messages); skipped 1 already imported.\n"
    assert tuichat("threads", "--db", target).stdout.rstrip().endswith("Plans for 東京タワー?")


@pytest.mark.parametrize(
    ("content", "problem"),
    [(None, "no such file"), ("this is not json", "not JSON"), ('{"hello": "world"}', "not a tuichat export")],
)
def test_import_of_a_bad_file_exits_2_with_one_line(db: str, tmp_path: Path, content, problem) -> None:
    path = tmp_path / "input.json"
    if content is not None:
        path.write_text(content)
    result = tuichat("import", str(path), "--db", db)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert str(path) in result.stderr and problem in result.stderr


def test_history_commands_load_neither_textual_nor_openai(db: str) -> None:
    code = (
        "import sys\n"
        "from tuichat.cli.main import main\n"
        f"for argv in (['threads', '--db', {db!r}], ['search', 'lovely', '--db', {db!r}],"
        f" ['export', '1', '--db', {db!r}]):\n"
        "    assert main(argv) == 0\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'openai'))\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stderr


def test_subcommands_do_not_disturb_the_app_flags() -> None:
    help_text = tuichat("--help").stdout
    for command in ("threads", "search", "export", "import"):
        assert f"tuichat {command}" in help_text
    assert "--persona" in help_text
    assert tuichat("--version").stdout.startswith("tuichat ")
    assert tuichat("search", "--help").returncode == 0
    bad = tuichat("export", "not-a-number")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
