"""Named servers ([servers.NAME]), Azure OpenAI's two API styles, and which key goes where."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from fake_openai import FakeServer, Reply
from tuichat.config import load_settings
from tuichat.core.errors import ConfigError, ProviderError, UsageError
from tuichat.core.events import TextDelta, UsageReport
from tuichat.providers.openai import OpenAIProvider
from tuichat.servers import PLACEHOLDER_KEY, Server, azure_v1_url, resolve_server, server_key

OPENAI_KEY = "sk-openai-secret-1234567890"
AZURE_KEY = "azure-secret-0987654321"
ENDPOINT = "https://me.openai.azure.com"

SERVERS = """\
model = "gpt-4o-mini"

[servers.local]
base_url = "http://localhost:11434/v1"
models = ["qwen3:8b", "llama3.2"]
timeout = 300

[servers.router]
base_url = "https://openrouter.ai/api/v1"
api_key_env = "OPENROUTER_API_KEY"
headers = { "HTTP-Referer" = "https://example.org", "X-Title" = "tuichat" }

[servers.work]
azure = true
api_version = "2024-10-21"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    return info.value


# --- config.toml ---------------------------------------------------------------------------------


def test_servers_are_read(tmp_path):
    settings = load_settings(write(tmp_path, SERVERS), env={})
    local, router, work = settings.servers["local"], settings.servers["router"], settings.servers["work"]
    assert (local.base_url, local.models, local.timeout) == ("http://localhost:11434/v1", ("qwen3:8b", "llama3.2"),
                                                             300.0)
    assert router.api_key_env == "OPENROUTER_API_KEY"
    assert dict(router.headers) == {"HTTP-Referer": "https://example.org", "X-Title": "tuichat"}
    assert (work.azure, work.api_version, work.base_url) == (True, "2024-10-21", None)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('[servers.local]\nbase_url = "localhost:11434"\n', 2, "has no http:// or https://"),
        ('[servers.local]\nmodels = ["a"]\n', 1, "[servers.local] has no base_url"),
        ('[servers.local]\nbase_url = "http://h/v1"\nbase_ulr = "x"\n', 3, "did you mean 'base_url'"),
        ('[servers.local]\nbase_url = "http://h/v1"\napi_key = "sk-123"\n', 3, "must not hold the key itself"),
        ('[servers.local]\nbase_url = "http://h/v1"\napi_key_env = "sk-abcdef"\n', 3, "looks like an API key"),
        ('[servers.local]\nbase_url = "http://h/v1"\napi_key_env = "K"\napi_key_file = "/k"\n', 4,
         "api_key_env and api_key_file both name the key"),
        ('[servers.local]\nbase_url = "http://h/v1"\nheaders = { Authorization = "Bearer x" }\n', 3,
         "would hold a key in config.toml"),
        ('[servers.local]\nbase_url = "http://h/v1"\nheaders = { "bad name" = "x" }\n', 3, "not a valid header name"),
        ('[servers.local]\nbase_url = "http://h/v1"\ntimeout = 0\n', 3, "'timeout' must be greater than 0"),
        ('[servers.local]\nbase_url = "http://h/v1"\napi_version = "2024-10-21"\n', 3, "add azure = true"),
        ('[servers.az]\nazure = true\napi_version = "June"\n', 3, "must be a dated Azure API version"),
        ('[servers.az]\nazure = "yes"\n', 2, "'azure' must be true or false"),
        ('[servers.local]\nbase_url = "http://h/v1"\napi_key_command = ""\n', 3, "'api_key_command' is empty"),
        ('[servers.default]\nbase_url = "http://h/v1"\n', 1, "'default' is the server of the top-level settings"),
        ('[servers."a b"]\nbase_url = "http://h/v1"\n', 1, "a server name is letters, digits"),
        ('server = "nowhere"\n', 1, "'server' names 'nowhere', which is not a server here"),
        ('servers = 3\n', 1, "'servers' must be tables"),
        ('headers = { Authorization = "Bearer x" }\n', 1, "would hold a key in config.toml"),
        ('azure_api_version = "someday"\n', 1, "'azure_api_version' must be a dated Azure API version"),
    ],
)
def test_server_mistakes_name_the_file_and_line(tmp_path, text, line, words):
    path = write(tmp_path, text)
    err = config_error(path)
    assert err.detail.startswith(f"{path}:{line}:"), err.detail
    assert words in err.detail


def test_server_setting_picks_the_start_server(tmp_path):
    settings = load_settings(write(tmp_path, 'server = "local"\n' + SERVERS), env={})
    assert resolve_server(settings, None, {}).name == "local"
    assert resolve_server(settings, "router", {}).name == "router"  # --server wins
    assert resolve_server(settings, "default", {}).base_url is None  # the top level: OpenAI


def test_unknown_server_flag_names_the_servers(tmp_path):
    settings = load_settings(write(tmp_path, SERVERS), env={})
    with pytest.raises(UsageError) as info:
        resolve_server(settings, "locl", {})
    assert "Unknown server 'locl' (--server)" in info.value.title
    assert "default, local, router, work" in info.value.detail


# --- Azure from the environment ------------------------------------------------------------------


def test_azure_server_from_the_environment(tmp_path):
    settings = load_settings(write(tmp_path, ""), env={})
    env = {"AZURE_OPENAI_ENDPOINT": ENDPOINT, "AZURE_OPENAI_API_KEY": AZURE_KEY}
    azure = resolve_server(settings, "azure", env)
    assert (azure.azure, azure.base_url, azure.api_version) == (True, ENDPOINT, None)  # v1 unless a version is set
    dated = resolve_server(settings, "azure", {**env, "OPENAI_API_VERSION": "2024-10-21"})
    assert dated.api_version == "2024-10-21"
    assert resolve_server(settings, "azure", {**env, "OPENAI_API_VERSION": "v1"}).api_version is None
    # Only Azure set up: it is used without --server; with an OpenAI key too, OpenAI stays the default.
    assert resolve_server(settings, None, env).name == "azure"
    assert resolve_server(settings, None, {**env, "OPENAI_API_KEY": OPENAI_KEY}).name == "default"


def test_azure_server_without_an_endpoint_says_what_to_set(tmp_path):
    settings = load_settings(write(tmp_path, SERVERS), env={})
    with pytest.raises(ConfigError) as info:
        resolve_server(settings, "work", {})
    assert "AZURE_OPENAI_ENDPOINT" in info.value.detail
    with pytest.raises(ConfigError) as info:
        resolve_server(settings, "azure", {"AZURE_OPENAI_ENDPOINT": ENDPOINT, "OPENAI_API_VERSION": "soon"})
    assert "OPENAI_API_VERSION" in info.value.title


def test_old_azure_versions_are_warned_about_and_not_asked_for_usage():
    old = Server(name="az", base_url=ENDPOINT, azure=True, api_version="2024-06-01")
    assert not old.streams_usage
    assert "2024-06-01 does not report token counts" in old.usage_warning()
    for fine in (Server(azure=True, api_version="2024-10-21"), Server(azure=True), Server()):
        assert fine.streams_usage and fine.usage_warning() is None


@pytest.mark.parametrize("endpoint", [ENDPOINT, ENDPOINT + "/", ENDPOINT + "/openai", ENDPOINT + "/openai/v1/"])
def test_azure_v1_base_url(endpoint):
    assert azure_v1_url(endpoint) == "https://me.openai.azure.com/openai/v1/"


# --- keys ------------------------------------------------------------------------------------------


def test_each_key_goes_only_to_its_own_server(tmp_path):
    settings = load_settings(write(tmp_path, SERVERS), env={})
    env = {"OPENAI_API_KEY": OPENAI_KEY, "AZURE_OPENAI_API_KEY": AZURE_KEY, "OPENROUTER_API_KEY": "or-key",
           "AZURE_OPENAI_ENDPOINT": ENDPOINT}
    keys = {name: server_key(resolve_server(settings, name, env), env)[0]
            for name in ("default", "local", "router", "work", "azure")}
    assert keys == {"default": OPENAI_KEY, "local": PLACEHOLDER_KEY, "router": "or-key", "work": AZURE_KEY,
                    "azure": AZURE_KEY}


def test_azure_never_gets_the_openai_key():
    key, note = server_key(Server(name="az", base_url=ENDPOINT, azure=True), {"OPENAI_API_KEY": OPENAI_KEY})
    assert key == "" and "AZURE_OPENAI_API_KEY" in note


def test_key_from_a_file(tmp_path):
    path = tmp_path / "key"
    path.write_text("file-key-123\n", encoding="utf-8")
    server = Server(name="s", base_url="http://h/v1", base_url_source="config", api_key_file=str(path))
    assert server_key(server, {"OPENAI_API_KEY": OPENAI_KEY}) == ("file-key-123", f"API key from {path}")
    path.write_text("", encoding="utf-8")
    key, note = server_key(server, {})
    assert key == "" and "is empty" in note
    missing = Server(name="s", base_url="http://h/v1", api_key_file=str(tmp_path / "nope"))
    key, note = server_key(missing, {})
    assert key == "" and "cannot read api_key_file ([servers.s])" in note and "No such file" in note


def test_key_from_a_command(tmp_path):
    def server(*words: str) -> Server:
        return Server(name="s", base_url="http://h/v1", base_url_source="config", api_key_command=words)

    key, note = server_key(server(sys.executable, "-c", "print('cmd-key-456')"), {})
    assert key == "cmd-key-456" and "api_key_command" in note
    key, note = server_key(server(sys.executable, "-c", "import sys; print('store locked', file=sys.stderr); "
                                                        "sys.exit(3)"), {})
    assert key == "" and "failed (exit 3): store locked" in note
    key, note = server_key(server("/no/such/command"), {})
    assert key == "" and "was not found" in note
    key, note = server_key(server(sys.executable, "-c", "pass"), {})
    assert key == "" and "printed nothing" in note


def test_key_command_is_split_like_a_shell(tmp_path):
    settings = load_settings(write(tmp_path, '[servers.s]\nbase_url = "http://h/v1"\n'
                                             'api_key_command = "pass show \'my key\'"\n'), env={})
    assert settings.servers["s"].api_key_command == ("pass", "show", "my key")


# --- the provider against the fake server, both Azure URL shapes -----------------------------------


async def _ask(provider: OpenAIProvider, model: str = "my-deployment") -> list[object]:
    try:
        return [event async for event in provider.stream([{"role": "user", "content": "hi"}], model, {})]
    finally:
        await provider.aclose()


def test_azure_v1_api_shape(fake_server: FakeServer):
    fake_server.azure, fake_server.require_key = "v1", AZURE_KEY
    fake_server.script(Reply.text("from azure v1", usage="auto"))
    server = Server(name="azure", base_url=f"http://127.0.0.1:{fake_server.port}", azure=True)
    events = asyncio.run(_ask(OpenAIProvider.for_server(server, AZURE_KEY)))
    request = fake_server.chat_requests[-1]
    assert request.path == "/openai/v1/chat/completions"
    assert request.headers["api-key"] == AZURE_KEY
    assert request.json["model"] == "my-deployment"  # the deployment name is the model
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "from azure v1"
    assert any(isinstance(e, UsageReport) for e in events)


def test_azure_dated_api_shape(fake_server: FakeServer):
    fake_server.azure, fake_server.require_key = "dated", AZURE_KEY
    fake_server.script(Reply.text("from azure dated", usage="auto"))
    server = Server(name="azure", base_url=f"http://127.0.0.1:{fake_server.port}", azure=True,
                    api_version="2024-10-21")
    events = asyncio.run(_ask(OpenAIProvider.for_server(server, AZURE_KEY)))
    request = fake_server.chat_requests[-1]
    assert request.path == "/openai/deployments/my-deployment/chat/completions"
    assert request.params["api-version"] == "2024-10-21"
    assert request.headers["api-key"] == AZURE_KEY
    assert request.json["stream_options"] == {"include_usage": True}
    assert any(isinstance(e, UsageReport) for e in events)


def test_old_azure_version_is_not_sent_stream_options(fake_server: FakeServer):
    fake_server.azure = "dated"
    fake_server.script(Reply.text("old", usage="auto"))
    server = Server(name="azure", base_url=f"http://127.0.0.1:{fake_server.port}", azure=True,
                    api_version="2024-06-01")
    asyncio.run(_ask(OpenAIProvider.for_server(server, AZURE_KEY)))
    assert len(fake_server.chat_requests) == 1  # not refused and retried: never asked
    assert "stream_options" not in fake_server.chat_requests[0].json


def test_wrong_azure_key_is_refused(fake_server: FakeServer):
    fake_server.azure, fake_server.require_key = "v1", AZURE_KEY
    server = Server(name="azure", base_url=f"http://127.0.0.1:{fake_server.port}", azure=True)
    with pytest.raises(ProviderError) as info:
        asyncio.run(_ask(OpenAIProvider.for_server(server, OPENAI_KEY)))
    assert info.value.kind == "auth" and "AZURE_OPENAI_API_KEY" in info.value.detail
    assert OPENAI_KEY not in str(info.value.detail)


def test_configured_headers_are_sent(fake_server: FakeServer):
    server = Server(name="s", base_url=fake_server.base_url, headers=(("X-Title", "tuichat"),))
    asyncio.run(_ask(OpenAIProvider.for_server(server, "k")))
    assert fake_server.chat_requests[-1].headers["x-title"] == "tuichat"


def test_a_bad_ca_bundle_is_a_clear_error(tmp_path, fake_server: FakeServer):
    bundle = tmp_path / "corp.pem"
    bundle.write_text("not a certificate\n", encoding="utf-8")
    server = Server(name="s", base_url=fake_server.base_url, ca_bundle=str(bundle))
    with pytest.raises(ProviderError) as info:
        asyncio.run(_ask(OpenAIProvider.for_server(server, "k")))
    assert info.value.kind == "config" and "ca_bundle" in info.value.detail and "corp.pem" in info.value.detail
    assert not fake_server.chat_requests


@pytest.fixture
def tls_server(tmp_path):
    """The fake server over HTTPS, with a certificate of its own CA (a corporate one)."""
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    ca_key, ca, key, csr, cert = (tmp_path / n for n in ("ca.key", "ca.pem", "srv.key", "srv.csr", "srv.pem"))
    ext = tmp_path / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\n", encoding="utf-8")
    for command in (
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2",
         "-subj", "/CN=Corp Test CA"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert, "-days", "2",
         "-extfile", ext],
    ):
        subprocess.run(["openssl", *map(str, command)], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with FakeServer(tls=context) as server:
        server.ca = ca
        yield server


def test_ca_bundle_lets_a_corporate_certificate_through(tls_server, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    tls_server.script(Reply.text("over TLS"))
    trusted = Server(name="corp", base_url=tls_server.base_url, ca_bundle=str(tls_server.ca))
    events = asyncio.run(_ask(OpenAIProvider.for_server(trusted, "k")))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "over TLS"
    # Without it the certificate is refused, with a plain error.
    untrusted = Server(name="corp", base_url=tls_server.base_url)
    with pytest.raises(ProviderError) as info:
        asyncio.run(_ask(OpenAIProvider.for_server(untrusted, "k", max_retries=0)))
    assert info.value.kind == "connection" and "certificate is not trusted" in info.value.title
    assert "ca_bundle" in info.value.detail
