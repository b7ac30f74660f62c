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
        ('model = "m"\ncontext_window = 12\n', 2, "at least 256"),
        ('[prices."m"]\ninput = 1\n', 1, "has no 'output'"),
        ('[prices."m"]\ninput = 1\noutput = -2\n', 3, "'output' must be a number of dollars per million tokens"),
        ('[prices."m"]\ninput = 1\noutput = 2\ncached = 3\n', 4, "unknown key 'cached'"),
        ('prices = 3\n', 1, "'prices' must be tables"),
        ('[budget]\n', 1, "[budget] is empty"),
        ('[budget]\ndollars = 0\n', 2, "'dollars' must be a number of US dollars above 0"),
        ('[budget]\ntokens = 1.5\n', 2, "'tokens' must be a whole number"),
        ('[budget]\neuros = 3\n', 2, "unknown [budget] key 'euros'"),
    ],
)
def test_wrong_types_and_values_name_the_line(tmp_path, text, line, words):
    path = write(tmp_path, text)
    err = config_error(path)
    assert err.detail.startswith(f"{path}:{line}:")
    assert words in err.detail
    assert err.title == "Invalid config"  # the CLI's one-line message starts with it


def test_auto_title_false_is_kept(tmp_path):
    assert load_settings(write(tmp_path, "auto_title = false\n"), env=NO_ENV).auto_title is False


def test_auto_title_typo_suggests_the_key(tmp_path):
    err = config_error(write(tmp_path, "auto_titel = true\n"))
    assert "did you mean 'auto_title'" in err.detail


def test_keymap_accepts_the_thread_bindings(tmp_path):
    path = write(tmp_path, '[keymap]\nrename_thread = "f11"\ndelete_thread = "f10"\n"threads.delete" = "x"\n')
    s = load_settings(path, env=NO_ENV)
    assert s.keymap == {"rename_thread": "f11", "delete_thread": "f10", "threads.delete": "x"}


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


# --- [keymap] key names and clashes (tuichat/keymap.py) -----------------------------------


def _ui_bindings() -> dict[str, str]:
    """Binding id -> key, as the app's classes define them (imports Textual)."""
    from tuichat.ui.app import TuichatApp
    from tuichat.ui.screens.chat import ChatScreen
    from tuichat.ui.screens.code_picker import CodePicker
    from tuichat.ui.screens.dialogs import ConfirmDialog, TextPromptDialog
    from tuichat.ui.screens.model_picker import ModelPicker
    from tuichat.ui.screens.persona_picker import PersonaPicker
    from tuichat.ui.screens.search import SearchScreen
    from tuichat.ui.widgets.composer import Composer
    from tuichat.ui.widgets.thread_list import ThreadList
    from tuichat.ui.widgets.thread_panel import ThreadFilter
    from tuichat.ui.widgets.transcript import Transcript
    from tuichat.ui.screens.help import HelpScreen

    keys: dict[str, set[str]] = {}
    for cls in (TuichatApp, ChatScreen, Composer, PersonaPicker, ThreadList, ThreadFilter,
                ConfirmDialog, TextPromptDialog, SearchScreen, CodePicker, Transcript, ModelPicker,
                HelpScreen):
        for binding in cls.BINDINGS:
            keys.setdefault(binding.id, set()).add(binding.key)
    assert all(len(k) == 1 for k in keys.values()), keys  # one default per id
    return {binding_id: k.pop() for binding_id, k in keys.items()}


def test_keymap_defaults_and_scopes_match_the_app():
    from tuichat.keymap import DEFAULT_KEYS, SCOPES, clash, normalize_keys

    assert DEFAULT_KEYS == _ui_bindings()
    assert set(DEFAULT_KEYS) == set(KEYMAP_IDS)
    assert set().union(*SCOPES.values()) == set(KEYMAP_IDS)  # every id is live somewhere
    for keys in DEFAULT_KEYS.values():
        assert normalize_keys(keys) == keys  # every default passes the check unchanged
    assert clash({}) is None  # and the defaults never clash


def test_keymap_key_table_accepts_every_key_textual_produces():
    from textual._ansi_sequences import ANSI_SEQUENCES_KEYS
    from textual._keyboard_protocol import FUNCTIONAL_KEYS
    from textual.keys import Keys, _character_to_key

    from tuichat.keymap import normalize_key

    produced = {k.value for k in Keys if not k.value.startswith("<") and k.value != "ctrl-at"}
    produced |= set(FUNCTIONAL_KEYS.values())
    produced |= {k.value for keys in ANSI_SEQUENCES_KEYS.values() if isinstance(keys, tuple) for k in keys
                 if not k.value.startswith("<")}
    produced |= {_character_to_key(chr(c)) for c in range(33, 127)}
    produced |= {f"ctrl+{_character_to_key(chr(c))}" for c in range(33, 127) if not chr(c).isalnum()}
    for key in produced:
        assert normalize_key(key) == key, key


@pytest.mark.parametrize(
    ("written", "normalised"),
    [("Ctrl+Shift+Up", "ctrl+shift+up"), ("shift+ctrl+a", "ctrl+shift+a"), ("?", "question_mark"),
     ("F10, ctrl+k", "f10,ctrl+k"), ("Esc", "escape"), ("PgDn", "pagedown"), ("ctrl++", "ctrl+plus"),
     ("control+e", "ctrl+e"), ("alt+x", "alt+x"), ("A", "A"), ("ctrl+E", "ctrl+e"),
     ("alt+?", "alt+question_mark"), ("ctrl+@", "ctrl+@")],
)
def test_keymap_values_are_normalised_to_textual_names(tmp_path, written, normalised):
    # Textual only matches a key by its exact name: a differently spelled key would never fire.
    # A key taken by default moves the binding that has it: Esc (stop), PgDn (page_down).
    binding = {"escape": "stop", "pagedown": "page_down"}.get(normalised, "retry")
    path = write(tmp_path, f'[keymap]\n{binding} = "{written}"\n')
    assert load_settings(path, env=NO_ENV).keymap == {binding: normalised}


@pytest.mark.parametrize(
    ("line", "words"),
    [('send = "notakey"', ["'notakey' is not a key name"]),
     ('send = "ctrl+entr"', ["did you mean 'enter'"]),
     ('send = "hyperr+x"', ["not a modifier"]),
     ('send = "ctrl+ "', ["no key after the '+'"]),
     ('send = "ctrl+\\u0007"', ["is not a key name"]),
     ('newline = "enter"', ["'newline' and 'send'", "message box"]),
     ('send = "ctrl+j"', ["'send' and 'newline'"]),
     ('newline = "ctrl+m"', ["'newline' and 'send'", "enter"]),  # ctrl+m is Enter
     ('complete = "ctrl+i"', []),  # ctrl+i is Tab, complete's own key: fine, see below
     ('"threads.delete" = "ctrl+q"', ["'threads.delete' and 'quit'", "thread list"]),
     ('"search.next" = "ctrl+q"', ["'search.next' and 'quit'", "search screen"]),
     ('"dialog.cancel" = "ctrl+q"', ["'dialog.cancel' and 'quit'"])],
)
def test_keymap_bad_keys_and_clashes_name_both_ids_and_the_line(tmp_path, line, words):
    path = write(tmp_path, f'model = "m"\n\n[keymap]\n{line}\n')
    if not words:
        load_settings(path, env=NO_ENV)
        return
    err = config_error(path)
    assert err.detail.startswith(f"{path}:4: [keymap]")
    for word in words:
        assert word in err.detail


def test_keymap_keys_may_be_swapped_or_reused_where_they_never_meet(tmp_path):
    path = write(tmp_path, '[keymap]\nsend = "ctrl+j"\nnewline = "enter"\n'
                           '"search.next" = "j"\n"dialog.cancel" = "q"\nstop = "escape"\n'
                           '"threads.delete" = "down"\n')
    # j is next_message in the transcript, but the search screen is modal: never both live;
    # Down moves from the thread filter into the list, and deletes only in the list itself.
    assert load_settings(path, env=NO_ENV).keymap["send"] == "ctrl+j"


def test_keymap_clash_points_at_the_second_line_the_user_wrote(tmp_path):
    path = write(tmp_path, '[keymap]\nreset = "f10"\nretry = "f6"\nsearch = "f10"\n')
    err = config_error(path)
    assert err.detail.startswith(f"{path}:2:") and "'reset' and 'search'" in err.detail
    assert "set here for 'search'" in err.detail


def test_loading_a_keymap_does_not_import_textual(tmp_path):
    import subprocess
    import sys

    path = write(tmp_path, '[keymap]\nretry = "ctrl+shift+f5"\nsend = "enter"\n')
    code = (f"import sys; from tuichat.config import load_settings; s = load_settings(__import__('pathlib').Path({str(path)!r}), env={{}});"
            "print(s.keymap['retry'], 'textual' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["ctrl+shift+f5", "False"]


# --- numbers and URLs that are not what they look like --------------------------------------


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "0", "1e300", "86401"])
def test_timeout_must_be_a_finite_positive_number_of_seconds(tmp_path, value):
    err = config_error(write(tmp_path, f"timeout = {value}\n"))
    assert err.detail.startswith(f"{write(tmp_path, f'timeout = {value}').parent}/config.toml:1:")
    assert "'timeout' must be greater than 0 and at most 86400 seconds" in err.detail


@pytest.mark.parametrize(
    ("url", "words"),
    [("http://host:99999/v1", "a port is a number from 1 to 65535"),
     ("http://host:-1/v1", "port"),
     ("htp:/x", "must start with http:// or https://"),
     ("localhost:11434/v1", "write it as http://localhost:11434/v1"),
     ("http://[::1/v1", "not a valid URL"),
     ("http://", "no host name"),
     ("http://a b/v1", "spaces"),
     ("http://host:0/v1", "port 0")],
)
def test_malformed_base_urls_say_what_is_wrong_everywhere(tmp_path, url, words):
    err = config_error(write(tmp_path, f'base_url = "{url}"\n'))
    assert err.detail.startswith(f"{tmp_path / 'config.toml'}:1: 'base_url'") and words in err.detail
    with pytest.raises(UsageError) as flag:
        with_overrides(Settings(), base_url=url)
    assert flag.value.title == "Invalid --base-url" and words in flag.value.detail
    env_err = config_error(write(tmp_path, ""), env={"OPENAI_BASE_URL": url})
    assert env_err.title == "Invalid OPENAI_BASE_URL" and words in env_err.detail


def test_a_password_in_a_bad_url_is_not_repeated(tmp_path):
    with pytest.raises(UsageError) as info:
        with_overrides(Settings(), base_url="ftp://me:hunter2@host/v1")
    assert "hunter2" not in info.value.detail and "***@host" in info.value.detail


def test_good_urls_still_pass():
    for url in ("http://localhost:11434/v1", "https://api.example.com/v1", "http://[::1]:8000/v1",
                "http://user:pw@host/v1", "https://x.openai.azure.com"):
        assert with_overrides(Settings(), base_url=url).base_url == url


# --- files that are not regular files, and file sizes ------------------------------------------


def test_a_fifo_device_or_directory_is_refused_without_reading(tmp_path):
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    assert "pipe (FIFO)" in config_error(fifo).detail
    assert "a device" in config_error(Path("/dev/zero")).detail  # would read forever
    assert "a directory" in config_error(tmp_path).detail
    assert load_settings(Path(os.devnull), env=NO_ENV).model == "gpt-4o-mini"  # /dev/null: empty


def test_config_size_limit(tmp_path):
    from tuichat.core.files import TOML_LIMIT

    path = write(tmp_path, "# " + "x" * (TOML_LIMIT - 3) + "\n")
    assert load_settings(path, env=NO_ENV).config_path == path  # exactly the limit: read
    path.write_text("# " + "x" * TOML_LIMIT + "\n")
    assert "more than the 1 MiB limit" in config_error(path).detail


def test_deeply_nested_toml_is_one_clear_error(tmp_path):
    path = write(tmp_path, "a = " + "[" * 50_000 + "]" * 50_000 + "\n")
    assert config_error(path).detail == f"{path}: invalid TOML: arrays or tables nested too deeply"
