"""Persona files: the shipped ones, user overrides, strict validation, lookup."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tuichat import paths
from tuichat.core.errors import PersonaError, UsageError
from tuichat.core.personas import (
    PersonaProblem,
    default_dirs,
    find_persona,
    load_persona_file,
    load_personas,
)

GOOD = '''name = "{name}"
description = "A test persona"
system_prompt = """
You are {name}.
"""
'''

SHIPPED = {"default", "ojousama", "diary", "translator"}


def write(directory: Path, filename: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / filename
    path.write_text(text, encoding="utf-8")
    return path


def persona_error(path: Path) -> PersonaError:
    with pytest.raises(PersonaError) as info:
        load_persona_file(path)
    return info.value


@pytest.fixture
def config_home(tmp_path, monkeypatch):
    """Point the user config dir at tmp_path so the real one is never read."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg"


# --- shipped personas ------------------------------------------------------------------------


def test_shipped_personas_all_load(config_home):
    personas = load_personas(default_dirs())
    assert SHIPPED <= set(personas)
    for persona in personas.values():
        assert persona.description.strip() and len(persona.system_prompt) > 200
        assert Path(persona.source).parent == paths.shipped_personas_dir()


def test_ojousama_speaks_ojousama():
    persona = load_persona_file(paths.shipped_personas_dir() / "ojousama.toml")
    assert persona.name == "ojousama"
    assert "わたくし" in persona.system_prompt
    assert "ですわ" in persona.system_prompt
    assert persona.greeting and ("わ" in persona.greeting or "の" in persona.greeting)


def test_default_dirs_are_shipped_then_user(config_home):
    assert default_dirs() == [paths.shipped_personas_dir(), config_home / "tuichat" / "personas"]


# --- loading dirs ----------------------------------------------------------------------------


def test_user_dir_overrides_shipped_by_name(config_home):
    user_dir = paths.user_personas_dir()
    write(user_dir, "my-default.toml", GOOD.format(name="default").replace("A test", "Mine"))
    write(user_dir, "pirate.toml", GOOD.format(name="pirate"))
    personas = load_personas(default_dirs())
    assert personas["default"].description == "Mine persona"
    assert personas["default"].source == str(user_dir / "my-default.toml")
    assert "pirate" in personas and "ojousama" in personas


def test_later_dir_wins_and_missing_dirs_are_skipped(tmp_path):
    write(tmp_path / "a", "x.toml", GOOD.format(name="x"))
    write(tmp_path / "b", "x.toml", GOOD.format(name="x").replace("A test", "Later"))
    personas = load_personas([tmp_path / "a", tmp_path / "missing", tmp_path / "b"])
    assert personas["x"].description == "Later persona"


def test_files_load_in_name_order_and_non_toml_is_ignored(tmp_path):
    for name in ("c", "a", "b"):
        write(tmp_path, f"{name}.toml", GOOD.format(name=name))
    write(tmp_path, "notes.txt", "not a persona")
    assert list(load_personas([tmp_path])) == ["a", "b", "c"]


def test_an_invalid_file_is_set_aside_with_its_error(tmp_path):
    write(tmp_path, "a.toml", GOOD.format(name="a"))
    bad = write(tmp_path, "b.toml", "name = \n")
    write(tmp_path, "c.toml", GOOD.format(name="c"))
    problems: list[PersonaProblem] = []
    assert list(load_personas([tmp_path], problems)) == ["a", "c"]
    (problem,) = problems
    assert problem.path == bad and problem.message.startswith(f"Invalid persona: {bad}:1: invalid TOML")
    assert list(load_personas([tmp_path])) == ["a", "c"]  # without a list to report to: still skipped


def test_duplicate_names_in_one_dir_withdraw_the_name(tmp_path):
    write(tmp_path, "one.toml", GOOD.format(name="same"))
    write(tmp_path, "two.toml", GOOD.format(name="same"))
    write(tmp_path, "other.toml", GOOD.format(name="other"))
    problems: list[PersonaProblem] = []
    assert list(load_personas([tmp_path], problems)) == ["other"]
    assert "one.toml" in problems[0].message and "two.toml" in problems[0].message
    with pytest.raises(PersonaError, match="Duplicate persona"):
        find_persona(load_personas([tmp_path]), "same", problems)


# --- one file ---------------------------------------------------------------------------------


def test_all_fields(tmp_path):
    path = write(
        tmp_path,
        "full.toml",
        GOOD.format(name="full")
        + 'model = "llama3"\ntemperature = 1\nmax_tokens = 512\ngreeting = "Hi!"\n',
    )
    p = load_persona_file(path)
    assert (p.name, p.model, p.temperature, p.max_tokens, p.greeting) == ("full", "llama3", 1.0, 512, "Hi!")
    assert isinstance(p.temperature, float)
    assert p.system_prompt.strip() == "You are full."
    assert p.source == str(path)


def test_bad_toml_names_line(tmp_path):
    path = write(tmp_path, "bad.toml", 'name = "x"\ndescription = "d"\nsystem_prompt = "unclosed\n')
    err = persona_error(path)
    assert err.detail.startswith(f"{path}:3: invalid TOML")
    assert isinstance(err, UsageError)


def test_missing_system_prompt(tmp_path):
    path = write(tmp_path, "p.toml", 'name = "x"\ndescription = "d"\n')
    err = persona_error(path)
    assert err.detail.startswith(f"{path}: missing required key 'system_prompt'")


def test_empty_system_prompt(tmp_path):
    path = write(tmp_path, "p.toml", 'name = "x"\ndescription = "d"\nsystem_prompt = """\n\n"""\n')
    assert persona_error(path).detail.startswith(f"{path}:3: 'system_prompt' is empty")


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ('temperature = "hot"\n', "'temperature' must be a number, got string"),
        ("temperature = true\n", "'temperature' must be a number, got boolean"),
        ("temperature = 2.5\n", "between 0 and 2"),
        ("max_tokens = 1.5\n", "'max_tokens' must be an integer, got float"),
        ("max_tokens = 0\n", "positive integer"),
        ("model = 3\n", "'model' must be a string"),
        ("greeting = ['hi']\n", "'greeting' must be a string, got array"),
    ],
)
def test_wrong_type_names_line(tmp_path, extra, words):
    path = write(tmp_path, "p.toml", GOOD.format(name="x") + extra)
    err = persona_error(path)
    assert err.detail.startswith(f"{path}:6: ")  # GOOD is 5 lines; the extra one is line 6
    assert words in err.detail


def test_wrong_type_of_required_key(tmp_path):
    path = write(tmp_path, "p.toml", 'name = 7\ndescription = "d"\nsystem_prompt = "s"\n')
    assert persona_error(path).detail.startswith(f"{path}:1: 'name' must be a string")


def test_unknown_key_names_line(tmp_path):
    path = write(tmp_path, "p.toml", GOOD.format(name="x") + "temprature = 0.5\n")
    err = persona_error(path)
    assert err.detail.startswith(f"{path}:6: unknown key 'temprature'")
    assert "temperature" in err.detail  # lists the valid keys


def test_key_name_inside_prompt_does_not_mislead_line(tmp_path):
    text = 'name = "x"\ndescription = "d"\nsystem_prompt = """\nmodel = pretend\n"""\nmodel = 5\n'
    path = write(tmp_path, "p.toml", text)
    assert persona_error(path).detail.startswith(f"{path}:6:")


# --- find_persona ------------------------------------------------------------------------------


@pytest.fixture
def catalog(tmp_path):
    write(tmp_path / "p", "helper.toml", GOOD.format(name="Helpful Bot"))
    write(tmp_path / "p", "zen.toml", GOOD.format(name="zen"))
    return load_personas([tmp_path / "p"])


def test_find_by_exact_name(catalog):
    assert find_persona(catalog, "zen").name == "zen"


def test_find_by_file_stem(catalog):
    assert find_persona(catalog, "helper").name == "Helpful Bot"


def test_find_case_insensitive(catalog):
    assert find_persona(catalog, "helpful bot").name == "Helpful Bot"
    assert find_persona(catalog, "ZEN").name == "zen"


def test_find_by_path(catalog, tmp_path):
    path = write(tmp_path / "elsewhere", "solo.toml", GOOD.format(name="solo"))
    assert find_persona(catalog, str(path)).name == "solo"


def test_find_by_missing_path_is_persona_error(catalog, tmp_path):
    with pytest.raises(PersonaError) as info:
        find_persona(catalog, str(tmp_path / "nope.toml"))
    assert "nope.toml" in info.value.detail and "not found" in info.value.detail


def test_unknown_persona_lists_names_and_where_to_add(catalog, config_home):
    with pytest.raises(PersonaError) as info:
        find_persona(catalog, "pirate")
    detail = info.value.detail
    assert "'pirate'" in detail
    assert "Helpful Bot" in detail and "zen" in detail
    assert str(paths.user_personas_dir()) in detail


# --- a broken persona file hides nothing else ---------------------------------------------------


BROKEN = {
    "syntax.toml": 'name = "syntax\n',
    "types.toml": 'name = "types"\ndescription = "d"\nsystem_prompt = 5\n',
    "unknown.toml": GOOD.format(name="unknown") + "colour = 1\n",
    "deep.toml": "a = " + "[" * 50_000 + "]" * 50_000 + "\n",
    "binary.toml": "\udcff",  # written with surrogateescape: one byte that is not UTF-8
}


@pytest.fixture
def broken_dir(config_home):
    """The user's personas dir: one good persona and one broken file of each kind."""
    user_dir = paths.user_personas_dir()
    write(user_dir, "pirate.toml", GOOD.format(name="pirate"))
    for name, text in BROKEN.items():
        user_dir.mkdir(parents=True, exist_ok=True)
        (user_dir / name).write_bytes(text.encode("utf-8", "surrogateescape"))
    os.mkfifo(user_dir / "fifo.toml")  # would block a naive read forever
    return user_dir


def test_every_good_persona_survives_broken_files(broken_dir):
    problems: list[PersonaProblem] = []
    personas = load_personas(default_dirs(), problems)
    assert SHIPPED | {"pirate"} == set(personas)
    assert sorted(p.path.name for p in problems) == sorted([*BROKEN, "fifo.toml"])
    assert all("\n" not in p.message and str(p.path) in p.message for p in problems)
    assert find_persona(personas, "pirate", problems).name == "pirate"
    assert find_persona(personas, "ojousama", problems).name == "ojousama"


def test_choosing_the_broken_one_fails_with_its_own_error(broken_dir):
    problems: list[PersonaProblem] = []
    personas = load_personas(default_dirs(), problems)
    with pytest.raises(PersonaError) as info:
        find_persona(personas, "types", problems)  # by file name and by the name inside
    assert info.value.detail.startswith(f"{broken_dir / 'types.toml'}:3: 'system_prompt' must be a string")
    with pytest.raises(PersonaError, match="invalid TOML"):
        find_persona(personas, "Syntax", problems)


def test_a_broken_override_is_not_replaced_by_the_shipped_persona(config_home):
    user_dir = paths.user_personas_dir()
    write(user_dir, "default.toml", GOOD.format(name="default") + "temperature = 9\n")
    problems: list[PersonaProblem] = []
    personas = load_personas(default_dirs(), problems)
    assert "default" not in personas and "ojousama" in personas
    with pytest.raises(PersonaError, match="'temperature' must be between 0 and 2"):
        find_persona(personas, "default", problems)


def _cli(*args: str, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tuichat", *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONIOENCODING": "utf-8"}, **kw)


def test_list_personas_lists_the_good_and_warns_once_per_bad_file(broken_dir):
    result = _cli("--list-personas")
    assert result.returncode == 0, result.stderr
    listed = {line.split()[0] for line in result.stdout.splitlines()}
    assert listed == SHIPPED | {"pirate"}
    warnings = result.stderr.splitlines()
    assert len(warnings) == len(BROKEN) + 1
    for name in [*BROKEN, "fifo.toml"]:
        (line,) = [w for w in warnings if f"{broken_dir / name}" in w]
        assert line.startswith("tuichat: warning: skipped Invalid persona: ")
    assert "Traceback" not in result.stderr


def test_pipe_mode_works_beside_a_broken_file_and_fails_only_for_it(broken_dir, fake_server, tmp_path):
    from fake_openai import Reply

    fake_server.script(Reply.text("Ahoy."), Reply.text("Fine."))
    common = ["--base-url", fake_server.base_url, "--db", str(tmp_path / "h.db")]
    pirate = _cli("-p", "hi", "--persona", "pirate", *common)
    assert (pirate.returncode, pirate.stdout, pirate.stderr) == (0, "Ahoy.\n", "")
    default = _cli("-p", "hi", *common)  # the default persona
    assert (default.returncode, default.stdout) == (0, "Fine.\n")
    broken = _cli("-p", "hi", "--persona", "types", *common)
    assert broken.returncode == 2 and broken.stdout == ""
    assert broken.stderr.count("\n") == 1 and "types.toml:3" in broken.stderr
    assert len(fake_server.chat_requests) == 2  # the broken one never reached the server
