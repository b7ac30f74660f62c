"""`tuichat doctor`, run as a user would (a subprocess), against the fake server: what it
checks, what it tells to fix, and its exit code."""

from __future__ import annotations

from fake_openai import Reply
from test_cli import tuichat

KEY = {"OPENAI_API_KEY": "sk-doctor-SECRET-123456", "OPENAI_BASE_URL": ""}


def doctor(tmp_path, *args: str, env: dict[str, str] | None = None):
    config = tmp_path / "config.toml"
    if not config.exists():
        config.write_text('model = "fake-model"\n', encoding="utf-8")
    return tuichat("doctor", "--config", str(config), "--db", str(tmp_path / "t.db"), *args,
                   env={"XDG_CONFIG_HOME": str(tmp_path / "xdg"), **KEY, **(env or {})})


def test_all_is_well_with_a_server_that_counts_tokens(fake_server, tmp_path):
    fake_server.script(Reply.text("OK", usage="auto"))
    fake_server.max_model_len = 32768  # vLLM tells it on /v1/models
    result = doctor(tmp_path, "--base-url", fake_server.base_url)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    # --base-url is not OpenAI's: OPENAI_API_KEY is not sent there, and doctor says so.
    for line in ("✓ config", "✓ personas", "✓ database", "✓ API key: none sent, only a placeholder. Not sending "
                 "OPENAI_API_KEY to",
                 "'fake-model' is listed", "✓ a streamed reply: 'OK'", "✓ token counts: the server sends them",
                 "✓ context window: 32,768 tokens, from"):
        assert line in out, out
    assert out.rstrip().endswith("All is well.")
    assert "SECRET" not in out + result.stderr
    sent = fake_server.chat_requests[-1].json
    assert sent["stream"] is True and sent["max_tokens"] == 5


def test_a_server_without_token_counts_is_a_warning_not_a_failure(fake_server, tmp_path):
    fake_server.script(Reply.text("OK", usage=None))
    result = doctor(tmp_path, "--base-url", fake_server.base_url)
    assert result.returncode == 0
    assert "! token counts: the server sends none: tuichat estimates them (shown with ≈)" in result.stdout
    assert "! context window: the server does not tell" in result.stdout
    assert "All is well (2 warning(s))." in result.stdout


def test_a_rejected_key_fails_and_says_what_to_do(fake_server, tmp_path):
    fake_server.script(Reply.error(401, "Incorrect API key provided"))
    result = doctor(tmp_path, "--base-url", fake_server.base_url)
    assert result.returncode == 1
    assert "✗ a streamed reply" in result.stdout and "Check OPENAI_API_KEY" in result.stdout
    assert result.stdout.rstrip().endswith("1 problem(s) to fix.")


def test_nothing_listening_fails_with_the_address(tmp_path):
    result = doctor(tmp_path, "--base-url", "http://127.0.0.1:9/v1")
    assert result.returncode == 1
    assert "Nothing answered at http://127.0.0.1:9/v1" in result.stdout
    assert "Traceback" not in result.stderr


def test_a_broken_config_is_named_with_its_line(tmp_path):
    (tmp_path / "config.toml").write_text('model = "a"\ntimeout = "soon"\n', encoding="utf-8")
    result = doctor(tmp_path)
    assert result.returncode == 1
    assert "✗ config" in result.stdout and "config.toml" in result.stdout and "timeout" in result.stdout


def test_hostile_model_ids_are_shown_inert(fake_server, tmp_path):
    fake_server.models = ["evil\x1b]0;pwned\x07model", "fake-model"]
    fake_server.script(Reply.text("OK", usage="auto"))
    result = doctor(tmp_path, "--base-url", fake_server.base_url, "--model", "other")
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "'other' is NOT among them" in result.stdout


async def test_the_context_window_is_read_where_each_kind_of_server_tells(fake_server):
    from tuichat.providers.context import context_window

    url = fake_server.base_url
    assert await context_window(url, "k", "fake-model") is None
    fake_server.ollama_show = {"model_info": {"qwen3.context_length": 40960}, "parameters": "temperature 0.7"}
    found = await context_window(url, "k", "fake-model")
    assert found is not None and found.tokens == 40960 and "/api/show" in found.source
    fake_server.ollama_show["parameters"] = "num_ctx 8192\ntemperature 0.7"
    assert (await context_window(url, "k", "fake-model")).tokens == 8192  # what Ollama really uses
    fake_server.props = {"default_generation_settings": {"n_ctx": 4096}}
    assert (await context_window(url, "k", "fake-model")).tokens == 4096  # llama.cpp, asked first
    fake_server.max_model_len = 131072
    assert (await context_window(url, "k", "fake-model")).tokens == 131072  # vLLM, asked first of all
    assert (await context_window(url, "k", "not-listed-model")).tokens == 4096
    assert all(r.headers.get("authorization") == "Bearer k" for r in fake_server.requests)


def test_doctor_checks_a_named_server_with_its_own_key(fake_server, tmp_path):
    fake_server.require_key = "named-key-77"
    fake_server.script(Reply.text("OK", usage="auto"))
    (tmp_path / "config.toml").write_text(
        f'model = "fake-model"\n[servers.lab]\nbase_url = "{fake_server.base_url}"\napi_key_env = "LAB_KEY"\n',
        encoding="utf-8")
    result = doctor(tmp_path, "--server", "lab", env={"LAB_KEY": "named-key-77"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✓ API key: from LAB_KEY (not shown)" in result.stdout
    assert "✓ a streamed reply: 'OK'" in result.stdout
    assert "named-key-77" not in result.stdout + result.stderr
    # The default server is listed as the other one to check; an unknown name fails plainly.
    assert "also configured: default" in result.stdout
    result = doctor(tmp_path, "--server", "nope")
    assert result.returncode == 1 and "✗ server: Unknown server 'nope'" in result.stdout
