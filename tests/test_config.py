"""config.toml loading, flag overrides, and which API key goes to which server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuichat.config import (
    KEYMAP_IDS,
    PLACEHOLDER_KEY,
    Settings,
    load_settings,
    resolve_api_key,
    with_overrides,
)
from tuichat.core.errors import ConfigError, UsageError
from tuichat.core.tomlfile import line_of

NO_ENV: dict[str, str] = {}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_settings(path, env=env or NO_ENV)
    return info.value


# --- loading ---------------------------------------------------------------------------


def test_missing_default_file_gives_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    settings = load_settings(env=NO_ENV)
    assert settings.model == "gpt-4o-mini"
    assert settings.base_url is None
    assert settings.base_url_source == "default"
    assert settings.default_persona == "default"
    assert settings.keymap == {}
    assert settings.timeout == 60.0
    assert settings.auto_title is False
    assert settings.config_path is None


def test_default_path_is_read_when_present(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "tuichat").mkdir()
    (tmp_path / "tuichat" / "config.toml").write_text('model = "llama3"\n')
    settings = load_settings(env=NO_ENV)
    assert settings.model == "llama3"
    assert settings.config_path == tmp_path / "tuichat" / "config.toml"


def test_missing_explicit_file_is_an_error(tmp_path):
    err = config_error(tmp_path / "nope.toml")
    assert "nope.toml" in err.detail
    assert "not found" in err.detail


def test_full_config(tmp_path):
    path = write(
        tmp_path,
        """
model = "qwen2.5:7b"
base_url = "http://localhost:11434/v1"
api_key_env = "OLLAMA_KEY"
default_persona = "ojousama"
timeout = 30
theme = "nord"
azure_api_version = "2024-06-01"
auto_title = true

[keymap]
reset = "ctrl+e"
quit = "ctrl+q, f10"
""",
    )
    s = load_settings(path, env=NO_ENV)
    assert s.model == "qwen2.5:7b"
    assert s.base_url == "http://localhost:11434/v1"
    assert s.base_url_source == "config"
    assert s.api_key_env == "OLLAMA_KEY"
    assert s.default_persona == "ojousama"
    assert s.timeout == 30.0 and isinstance(s.timeout, float)
    assert s.theme == "nord"
    assert s.azure_api_version == "2024-06-01"
    assert s.auto_title is True
    assert s.keymap == {"reset": "ctrl+e", "quit": "ctrl+q,f10"}


def test_bad_toml_names_file_and_line(tmp_path):
    path = write(tmp_path, 'model = "a"\ntimeout = \n')
    err = config_error(path)
    assert err.detail.startswith(f"{path}:2: invalid TOML")
    assert "(at line" not in err.detail  # the position is moved to file:line, not repeated


def test_unterminated_string_points_at_last_line(tmp_path):
    path = write(tmp_path, 'model = "a"\ntheme = """\nstill open\n')
    assert config_error(path).detail.startswith(f"{path}:3: invalid TOML")


def test_not_utf8_is_reported(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes(b'model = "a"\ntheme = "\xff"\n')
    err = config_error(path)
    assert err.detail.startswith(f"{path}:2:") and "UTF-8" in err.detail


def test_unknown_key_names_line_and_valid_keys(tmp_path):
    path = write(tmp_path, '# my config\nmodel = "a"\nmodle = "b"\n')
    err = config_error(path)
    assert err.detail.startswith(f"{path}:3: unknown key 'modle'")
    assert "did you mean 'model'" in err.detail
    assert "valid keys:" in err.detail and "base_url" in err.detail and "api_key_env" in err.detail


def test_api_key_is_rejected_with_specific_message(tmp_path):
    path = write(tmp_path, 'model = "a"\napi_key = "sk-secret"\n')
    err = config_error(path)
    assert err.detail.startswith(f"{path}:2:")
    assert "must not hold the key itself" in err.detail
    assert "api_key_env" in err.detail
    assert "sk-secret" not in str(err)  # never echo a secret back


def test_api_key_env_holding_a_key_is_rejected(tmp_path):
    path = write(tmp_path, 'api_key_env = "sk-abc123"\n')
    err = config_error(path)
    assert err.detail.startswith(f"{path}:1:") and "NAME of an environment variable" in err.detail


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('model = 5\n', 1, "'model' must be a string, got integer"),
        ('model = "m"\ntimeout = "fast"\n', 2, "'timeout' must be a number"),
        ('timeout = true\n', 1, "'timeout' must be a number"),
        ('timeout = 0\n', 1, "greater than 0"),
        ('model = ""\n', 1, "'model' is empty"),
        ('base_url = "localhost:8080"\n', 1, "http:// or https://"),
        ('theme = ["a"]\n', 1, "got array"),
        ('keymap = "ctrl+e"\n', 1, "'keymap' must be a table"),
        ('model = "m"\nauto_title = "yes"\n', 2, "'auto_title' must be true or false, got string"),
        ('auto_title = 1\n', 1, "'auto_title' must be true or false, got integer"),
    ],
)
def test_wrong_types_and_values_name_the_line(tmp_path, text, line, words):
    path = write(tmp_path, text)
    err = config_error(path)
    assert err.detail.startswith(f"{path}:{line}:")
    assert words in err.detail
    assert err.title  # a title for the CLI's one-line message


def test_auto_title_false_is_kept(tmp_path):
    assert load_settings(write(tmp_path, "auto_title = false\n"), env=NO_ENV).auto_title is False


def test_auto_title_typo_suggests_the_key(tmp_path):
    err = config_error(write(tmp_path, "auto_titel = true\n"))
    assert "did you mean 'auto_title'" in err.detail


def test_keymap_accepts_the_thread_bindings(tmp_path):
    path = write(tmp_path, '[keymap]\nrename_thread = "f3"\ndelete_thread = "f9"\n"threads.delete" = "x"\n')
    s = load_settings(path, env=NO_ENV)
    assert s.keymap == {"rename_thread": "f3", "delete_thread": "f9", "threads.delete": "x"}


def test_keymap_unknown_binding_names_line_and_valid_ids(tmp_path):
    path = write(tmp_path, 'model = "m"\n\n[keymap]\nreset = "ctrl+e"\nrset = "f5"\n')
    err = config_error(path)
    assert err.detail.startswith(f"{path}:5: unknown [keymap] key 'rset'")
    assert "did you mean 'reset'" in err.detail
    assert all(binding in err.detail for binding in KEYMAP_IDS)


def test_keymap_value_must_be_string(tmp_path):
    path = write(tmp_path, '[keymap]\nquit = "ctrl+q"\nreset = 5\n')
    err = config_error(path)
    assert err.detail.startswith(f"{path}:3:") and "'reset' must be a string" in err.detail


def test_keymap_inline_table_points_at_its_line(tmp_path):
    path = write(tmp_path, 'model = "m"\nkeymap = { reset = 1 }\n')
    assert config_error(path).detail.startswith(f"{path}:2:")


def test_config_error_is_a_usage_error(tmp_path):
    # The CLI turns UsageError into exit code 2 and a one-line message.
    assert isinstance(config_error(write(tmp_path, "x = 1\n")), UsageError)


# --- where base_url comes from -----------------------------------------------------------


def test_env_base_url_used_when_config_has_none(tmp_path):
    path = write(tmp_path, 'model = "m"\n')
    s = load_settings(path, env={"OPENAI_BASE_URL": "http://gpu-box:8000/v1"})
    assert s.base_url == "http://gpu-box:8000/v1"
    assert s.base_url_source == "env"


def test_config_base_url_beats_env(tmp_path):
    path = write(tmp_path, 'base_url = "http://localhost:11434/v1"\n')
    s = load_settings(path, env={"OPENAI_BASE_URL": "http://gpu-box:8000/v1"})
    assert s.base_url == "http://localhost:11434/v1"
    assert s.base_url_source == "config"


def test_flag_beats_config_and_env(tmp_path):
    path = write(tmp_path, 'model = "m"\nbase_url = "http://localhost:11434/v1"\n')
    s = load_settings(path, env={"OPENAI_BASE_URL": "http://gpu-box:8000/v1"})
    s2 = with_overrides(s, model="other", base_url="http://flag-host:1234/v1")
    assert (s2.model, s2.base_url, s2.base_url_source) == ("other", "http://flag-host:1234/v1", "flag")
    assert (s.model, s.base_url_source) == ("m", "config")  # the original is untouched


def test_with_overrides_without_flags_keeps_everything():
    s = Settings(model="m", base_url="http://x/v1", base_url_source="config")
    assert with_overrides(s) == s


def test_bad_base_url_flag_is_a_usage_error():
    with pytest.raises(UsageError) as info:
        with_overrides(Settings(), base_url="localhost:1234")
    assert "--base-url" in info.value.title


def test_bad_env_base_url_is_reported(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, ""), env={"OPENAI_BASE_URL": "not a url"})
    assert "OPENAI_BASE_URL" in str(info.value)


def test_empty_env_base_url_is_ignored(tmp_path):
    s = load_settings(write(tmp_path, ""), env={"OPENAI_BASE_URL": ""})
    assert (s.base_url, s.base_url_source) == (None, "default")


# --- resolve_api_key ------------------------------------------------------------------------

OPENAI_KEY = "sk-openai-secret"


def test_default_openai_uses_openai_key():
    key, note = resolve_api_key(Settings(), {"OPENAI_API_KEY": OPENAI_KEY})
    assert key == OPENAI_KEY and "OPENAI_API_KEY" in note


def test_default_openai_without_key_explains():
    key, note = resolve_api_key(Settings(), {})
    assert key == ""
    assert note == (
        "No API key: set OPENAI_API_KEY (or api_key_env in config.toml), "
        "or point base_url at a local server"
    )


def test_env_base_url_uses_openai_key(tmp_path):
    env = {"OPENAI_BASE_URL": "https://proxy.example/v1", "OPENAI_API_KEY": OPENAI_KEY}
    s = load_settings(write(tmp_path, ""), env=env)
    assert resolve_api_key(s, env)[0] == OPENAI_KEY


def test_env_local_base_url_without_any_key_gets_placeholder(tmp_path):
    env = {"OPENAI_BASE_URL": "http://localhost:11434/v1"}
    s = load_settings(write(tmp_path, ""), env=env)
    assert resolve_api_key(s, env)[0] == PLACEHOLDER_KEY


def test_flag_base_url_never_gets_openai_key(tmp_path):
    env = {"OPENAI_API_KEY": OPENAI_KEY}
    s = with_overrides(load_settings(write(tmp_path, ""), env=env), base_url="http://evil.example/v1")
    key, note = resolve_api_key(s, env)
    assert key != OPENAI_KEY
    assert key == PLACEHOLDER_KEY
    assert "api_key_env" in note and "--base-url" in note
    assert OPENAI_KEY not in note


def test_flag_overrides_env_base_url_and_still_withholds_key(tmp_path):
    env = {"OPENAI_BASE_URL": "https://proxy.example/v1", "OPENAI_API_KEY": OPENAI_KEY}
    s = with_overrides(load_settings(write(tmp_path, ""), env=env), base_url="http://other/v1")
    assert resolve_api_key(s, env)[0] == PLACEHOLDER_KEY


def test_config_base_url_never_gets_openai_key(tmp_path):
    env = {"OPENAI_API_KEY": OPENAI_KEY}
    s = load_settings(write(tmp_path, 'base_url = "http://localhost:8080/v1"\n'), env=env)
    key, note = resolve_api_key(s, env)
    assert key == PLACEHOLDER_KEY
    assert "config.toml" in note


def test_flag_pointing_at_openai_itself_uses_openai_key():
    s = with_overrides(Settings(), base_url="https://api.openai.com/v1")
    assert resolve_api_key(s, {"OPENAI_API_KEY": OPENAI_KEY})[0] == OPENAI_KEY


def test_api_key_env_is_used_for_any_base_url():
    s = Settings(base_url="http://remote:8000/v1", base_url_source="flag", api_key_env="MY_KEY")
    env = {"MY_KEY": "sk-mine", "OPENAI_API_KEY": OPENAI_KEY}
    key, note = resolve_api_key(s, env)
    assert key == "sk-mine" and "MY_KEY" in note


@pytest.mark.parametrize("env", [{}, {"MY_KEY": ""}])
def test_api_key_env_missing_or_empty(env):
    s = Settings(api_key_env="MY_KEY")
    key, note = resolve_api_key(s, {**env, "OPENAI_API_KEY": OPENAI_KEY})
    assert key == ""  # no fallback to OPENAI_API_KEY: the user named another variable
    assert "MY_KEY" in note and "not set" in note


def test_azure_uses_azure_key_not_openai_key():
    s = Settings(
        base_url="https://me.openai.azure.com", base_url_source="config", azure_api_version="2024-06-01"
    )
    assert resolve_api_key(s, {"AZURE_OPENAI_API_KEY": "az", "OPENAI_API_KEY": OPENAI_KEY})[0] == "az"
    key, note = resolve_api_key(s, {"OPENAI_API_KEY": OPENAI_KEY})
    assert key == "" and "AZURE_OPENAI_API_KEY" in note


# --- line_of ------------------------------------------------------------------------------


def test_line_of_ignores_keys_inside_multiline_strings_and_other_tables():
    text = '\n'.join(
        [
            'note = """',
            'model = "inside a string"',
            '"""',
            'model = "real"',
            '[keymap]',
            'reset = "x"',
            '[other]',
            'reset = "y"',
        ]
    )
    assert line_of(text, "model") == 4
    assert line_of(text, "reset", "keymap") == 6
    assert line_of(text, "reset") is None  # not at the top level
    assert line_of(text, None, "keymap") == 5
    assert line_of(text, "missing") is None


def test_models_list_is_read_and_tidied(tmp_path):
    path = write(tmp_path, 'model = "m"\nmodels = ["gpt-4o", " qwen3:8b ", "gpt-4o", "日本語-model"]\n')
    assert load_settings(path, env=NO_ENV).models == ["gpt-4o", "qwen3:8b", "日本語-model"]
    assert load_settings(write(tmp_path, 'model = "m"\n'), env=NO_ENV).models == []


@pytest.mark.parametrize(
    "text, line, words",
    [
        ('models = "gpt-4o"\n', 1, "'models' must be a list of model names, got string"),
        ('model = "m"\nmodels = ["a", 3]\n', 2, "'models' must hold only strings, got integer"),
        ('models = ["a", " "]\n', 1, "'models' holds an empty name"),
        ('modles = ["a"]\n', 1, "did you mean 'models'"),
    ],
)
def test_models_list_is_checked_strictly(tmp_path, text, line, words):
    path = write(tmp_path, text)
    err = config_error(path)
    assert err.detail.startswith(f"{path}:{line}:")
    assert words in err.detail
