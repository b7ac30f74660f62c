"""Persona files: the shipped ones, user overrides, strict validation, lookup."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuichat import paths
from tuichat.core.errors import PersonaError, UsageError
from tuichat.core.personas import default_dirs, find_persona, load_persona_file, load_personas

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


def test_first_invalid_file_raises(tmp_path):
    write(tmp_path, "a.toml", GOOD.format(name="a"))
    bad = write(tmp_path, "b.toml", "name = \n")
    with pytest.raises(PersonaError) as info:
        load_personas([tmp_path])
    assert str(bad) in info.value.detail


def test_duplicate_names_in_one_dir_are_an_error(tmp_path):
    write(tmp_path, "one.toml", GOOD.format(name="same"))
    write(tmp_path, "two.toml", GOOD.format(name="same"))
    with pytest.raises(PersonaError) as info:
        load_personas([tmp_path])
    assert "one.toml" in info.value.detail and "two.toml" in info.value.detail


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
