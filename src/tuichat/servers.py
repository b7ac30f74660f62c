"""Servers: which one a thread talks to, how to reach it, and which key goes to it.

A server is the top-level settings of config.toml (named "default"), a `[servers.NAME]`
table, or Azure OpenAI from AZURE_OPENAI_ENDPOINT (named "azure"). Every key is scoped
to its server: OPENAI_API_KEY goes only to OpenAI (or to the OPENAI_BASE_URL set beside
it), AZURE_OPENAI_API_KEY only to an Azure server, and a named server gets only the key
its own table names (api_key_env, api_key_command or api_key_file). tuichat stores none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tuichat.core.errors import ConfigError, UsageError
from tuichat.core.text import clean_line, mask_url
from tuichat.core.tomlfile import TomlDoc, type_name

if TYPE_CHECKING:
    from tuichat.config import Settings

DEFAULT = "default"  # the server of config.toml's top-level settings
AZURE = "azure"  # the server made from AZURE_OPENAI_ENDPOINT when no [servers.azure] exists
OPENAI_HOST = "api.openai.com"
# Keyless local servers (Ollama, llama.cpp, vLLM) accept any key, but the SDK wants one.
PLACEHOLDER_KEY = "sk-no-key-required"
# Azure's dated API versions before this one do not send token usage while streaming
# (stream_options arrived in 2024-09-01-preview): tuichat estimates the counts then.
AZURE_USAGE_SINCE = "2024-09-01"
_AZURE_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}(-preview)?")
# Values of api_version / OPENAI_API_VERSION meaning Azure's v1 API (no dated version).
_AZURE_V1 = ("v1", "latest", "preview")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
# A header name, as HTTP allows one (RFC 9110 token).
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Headers that carry a key: keys come from api_key_env/_command/_file, never config.toml.
_KEY_HEADERS = ("authorization", "api-key", "x-api-key", "proxy-authorization")
KEY_COMMAND_SECONDS = 30.0

SERVER_KEYS = ("base_url", "api_key_env", "api_key_command", "api_key_file", "models", "headers", "timeout",
               "ca_bundle", "azure", "api_version")


@dataclass(frozen=True)
class Server:
    """One server and how to reach it. The key itself is never held here."""

    name: str = DEFAULT
    base_url: str | None = None  # None: OpenAI's own address
    base_url_source: str = "default"  # "default" | "env" | "config" | "flag"
    api_key_env: str | None = None  # the NAME of the variable holding the key
    api_key_command: tuple[str, ...] = ()  # a command printing the key (a password manager)
    api_key_file: str | None = None  # a file holding the key
    models: tuple[str, ...] = ()  # offered by the model picker
    headers: tuple[tuple[str, str], ...] = ()  # sent with every request
    timeout: float = 60.0
    ca_bundle: str | None = None  # a PEM file of CA certificates (a corporate proxy's)
    azure: bool = False
    api_version: str | None = None  # Azure: a dated version ("2024-10-21"); None: the v1 API

    @property
    def label(self) -> str:
        """host[:port] for the screen: never the password of a user:password@ URL."""
        if not self.base_url:
            return OPENAI_HOST
        url = mask_url(self.base_url)
        return urlsplit(url).netloc or url

    @property
    def streams_usage(self) -> bool:
        """False for Azure's dated versions too old to send token counts in a stream."""
        return not (self.azure and self.api_version and self.api_version[:10] < AZURE_USAGE_SINCE)

    def usage_warning(self) -> str | None:
        if self.streams_usage:
            return None
        return (f"Azure API version {self.api_version} does not report token counts while streaming, so "
                f"they are estimated (≈). Use api_version = \"2024-10-21\" or later, or the v1 API "
                f"(remove api_version and OPENAI_API_VERSION).")


def is_openai(base_url: str | None) -> bool:
    if base_url is None:
        return True
    url = urlsplit(base_url)
    return url.scheme == "https" and url.hostname == OPENAI_HOST


# --- config.toml ------------------------------------------------------------------------


def check_servers(doc: TomlDoc, servers: Any) -> dict[str, Server]:
    """[servers.NAME] tables -> Servers, strictly, each problem with its file and line."""
    if not isinstance(servers, dict):
        raise doc.fail(f"'servers' must be tables such as [servers.local], got {type_name(servers)}", "servers")
    result: dict[str, Server] = {}
    for name, table in servers.items():
        header = f"servers.{name}"
        if not _NAME.fullmatch(name):
            raise doc.fail(f"[servers.{name}]: a server name is letters, digits, '-', '_' and '.', "
                           "at most 40, so that --server NAME can name it", None, header)
        if name == DEFAULT:
            raise doc.fail("[servers.default]: 'default' is the server of the top-level settings "
                           "(base_url, api_key_env, ...); give this one another name", None, header)
        if not isinstance(table, dict):
            raise doc.fail(f"[servers.{name}] must be a table, got {type_name(table)}", None, header)
        result[name] = check_server(doc, table, name, header)
    return result


def check_server(doc: TomlDoc, table: Mapping[str, Any], name: str, header: str | None) -> Server:
    """One server's keys (a [servers.NAME] table, or the top level for "default")."""
    from tuichat.config import MAX_TIMEOUT, check_model_list, unknown_key, url_problem

    where = f"[{header}] " if header else ""

    def fail(problem: str, key: str | None) -> UsageError:
        return doc.fail(f"{where}{problem}", key, header)

    if header is not None:
        for key in table:
            if key == "api_key":
                raise fail("must not hold the key itself; put it in an environment variable and set "
                           "api_key_env to its name (or use api_key_command / api_key_file)", key)
            if key not in SERVER_KEYS:
                raise unknown_key(doc, key, SERVER_KEYS, header)
    fields: dict[str, Any] = {"name": name}
    for key in ("base_url", "api_key_env", "api_key_file", "ca_bundle", "api_version"):
        if (value := table.get(key)) is None:
            continue
        if not isinstance(value, str):
            raise fail(f"'{key}' must be a string, got {type_name(value)}", key)
        if not value.strip():
            raise fail(f"'{key}' is empty; set a value or remove the line", key)
        fields[key] = value.strip()
    if "base_url" in fields:
        if problem := url_problem(fields["base_url"]):
            raise fail(f"'base_url' {problem}", "base_url")
        fields["base_url_source"] = "config"
    if fields.get("api_key_env", "").startswith("sk-"):
        raise fail("'api_key_env' looks like an API key; it must be the NAME of an environment variable "
                   "(e.g. OPENAI_API_KEY), not the key itself", "api_key_env")
    if (command := table.get("api_key_command")) is not None:
        fields["api_key_command"] = _check_command(command, lambda problem: fail(problem, "api_key_command"))
    sources = [key for key in ("api_key_env", "api_key_command", "api_key_file") if key in table]
    if len(sources) > 1:
        raise fail(f"{' and '.join(sources)} both name the key; keep one", sources[1])
    if (models := table.get("models")) is not None:
        fields["models"] = tuple(check_model_list(doc, models, header))
    if (headers := table.get("headers")) is not None:
        fields["headers"] = _check_headers(headers, lambda problem: fail(problem, "headers"))
    if (timeout := table.get("timeout")) is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            raise fail(f"'timeout' must be a number of seconds, got {type_name(timeout)}", "timeout")
        if not 0 < timeout <= MAX_TIMEOUT:
            raise fail(f"'timeout' must be greater than 0 and at most {MAX_TIMEOUT:g} seconds, got {timeout}",
                       "timeout")
        fields["timeout"] = float(timeout)
    if (azure := table.get("azure")) is not None:
        if not isinstance(azure, bool):
            raise fail(f"'azure' must be true or false, got {type_name(azure)}", "azure")
        fields["azure"] = azure
    if header is not None and "base_url" not in fields and not fields.get("azure"):
        raise fail("has no base_url; add base_url = \"http://HOST:PORT/v1\" (or azure = true for Azure OpenAI, "
                   "whose address may come from AZURE_OPENAI_ENDPOINT)", None)
    if "api_version" in fields:
        if not fields.get("azure"):
            raise fail("'api_version' is for Azure OpenAI; add azure = true, or remove it", "api_version")
        version = azure_version(fields["api_version"])
        if version is False:
            raise fail(f"'api_version' must be a dated Azure API version such as \"2024-10-21\", or \"v1\"; "
                       f"got {fields['api_version']!r}", "api_version")
        fields["api_version"] = version
    return Server(**fields)


def azure_version(text: str) -> str | None | bool:
    """A dated Azure API version as it is, None for the v1 API, False when it is neither."""
    text = text.strip()
    if text.lower() in _AZURE_V1:
        return None
    return text if _AZURE_VERSION.fullmatch(text) else False


def _check_command(command: Any, fail: Any) -> tuple[str, ...]:
    if isinstance(command, str):
        import shlex  # lazily, as subprocess below: only a config with a key command needs them

        try:
            words = shlex.split(command)
        except ValueError as exc:
            raise fail(f"'api_key_command' cannot be split into words ({exc}); check its quotes") from None
    elif isinstance(command, list) and all(isinstance(word, str) for word in command):
        words = list(command)
    else:
        raise fail(f"'api_key_command' must be a command line such as \"pass show openai\", or a list of "
                   f"words, got {type_name(command)}")
    if not words or not words[0].strip():
        raise fail("'api_key_command' is empty; name the command that prints the key, or remove the line")
    return tuple(words)


def _check_headers(headers: Any, fail: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(headers, dict):
        raise fail(f"'headers' must be a table such as {{ \"X-Team\" = \"chat\" }}, got {type_name(headers)}")
    result = []
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name):
            raise fail(f"'headers': {name!r} is not a valid header name (letters, digits and -)")
        if name.lower() in _KEY_HEADERS:
            raise fail(f"'headers': {name} would hold a key in config.toml; name its environment variable "
                       "with api_key_env instead (or use api_key_command / api_key_file)")
        if not isinstance(value, str):
            raise fail(f"'headers': the value of {name} must be a string, got {type_name(value)}")
        if any(not c.isprintable() for c in value) or not value.isascii():
            raise fail(f"'headers': the value of {name} must be printable ASCII")
        result.append((name, value))
    return tuple(result)


# --- choosing a server ------------------------------------------------------------------------


def default_server(settings: Settings) -> Server:
    """The server of the top-level settings (and OPENAI_BASE_URL)."""
    return Server(
        name=DEFAULT, base_url=settings.base_url, base_url_source=settings.base_url_source,
        api_key_env=settings.api_key_env, api_key_command=settings.api_key_command,
        api_key_file=settings.api_key_file, models=tuple(settings.models), headers=settings.headers,
        timeout=settings.timeout, ca_bundle=settings.ca_bundle,
        azure=settings.azure or settings.azure_api_version is not None,
        api_version=settings.azure_api_version,
    )


def server_names(settings: Settings, env: Mapping[str, str]) -> list[str]:
    """Every server --server may name, the default first."""
    names = [DEFAULT, *settings.servers]
    if AZURE not in settings.servers and (env.get("AZURE_OPENAI_ENDPOINT") or "").strip():
        names.append(AZURE)
    return names


def resolve_server(settings: Settings, name: str | None, env: Mapping[str, str]) -> Server:
    """The server called `name` (None: config.toml's `server`, else the default one), with
    Azure's environment applied. Raises UsageError for a name no config has."""
    chosen = name or settings.server
    if chosen is None:
        server = default_server(settings)
        if (not server.azure and server.base_url is None and not server.api_key_env and not server.api_key_command
                and not server.api_key_file and not env.get("OPENAI_API_KEY")
                and (env.get("AZURE_OPENAI_ENDPOINT") or "").strip()):
            # Only Azure is set up in this environment: use it rather than fail on OpenAI.
            return _with_azure_env(Server(name=AZURE, azure=True, timeout=server.timeout, models=server.models),
                                   env)
        return _with_azure_env(server, env) if server.azure else server
    if chosen == DEFAULT:
        server = default_server(settings)
    elif chosen in settings.servers:
        server = settings.servers[chosen]
    elif chosen == AZURE and (env.get("AZURE_OPENAI_ENDPOINT") or "").strip():
        server = Server(name=AZURE, azure=True, timeout=settings.timeout)
    else:
        known = ", ".join(server_names(settings, env))
        source = "--server" if name else "'server' in config.toml"
        raise UsageError(f"Unknown server {clean_line(chosen)!r} ({source})",
                         f"the servers are: {known}. Add a [servers.{clean_line(chosen)}] table with its base_url "
                         f"to config.toml, or set AZURE_OPENAI_ENDPOINT for 'azure'")
    return _with_azure_env(server, env) if server.azure else server


def _with_azure_env(server: Server, env: Mapping[str, str]) -> Server:
    changes: dict[str, Any] = {}
    if server.base_url is None:
        endpoint = (env.get("AZURE_OPENAI_ENDPOINT") or "").strip()
        if not endpoint:
            raise ConfigError(f"No address for the Azure server {server.name!r}",
                              "set AZURE_OPENAI_ENDPOINT (https://RESOURCE.openai.azure.com) or base_url "
                              "in its config.toml table")
        from tuichat.config import url_problem

        if problem := url_problem(endpoint):
            raise ConfigError("Invalid AZURE_OPENAI_ENDPOINT", f"'{mask_url(endpoint)}' {problem}")
        changes.update(base_url=endpoint, base_url_source="env")
    if server.api_version is None and (version := (env.get("OPENAI_API_VERSION") or "").strip()):
        parsed = azure_version(version)
        if parsed is False:
            raise ConfigError("Invalid OPENAI_API_VERSION", f"{clean_line(version)!r} is not an Azure API version; "
                                                            "use a date such as 2024-10-21, or v1, or unset it")
        changes["api_version"] = parsed
    return replace(server, **changes)


def azure_v1_url(endpoint: str) -> str:
    """https://RESOURCE.openai.azure.com[/openai[/v1]] -> .../openai/v1/, the v1 API's base."""
    base = endpoint.rstrip("/")
    for tail in ("/openai/v1", "/openai"):
        if base.endswith(tail):
            base = base[: -len(tail)]
            break
    return f"{base}/openai/v1/"


# --- keys -------------------------------------------------------------------------------------------


def server_key(server: Server, env: Mapping[str, str]) -> tuple[str, str]:
    """(key, note). key == "" means no usable key: start anyway and show the note.

    An OpenAI key is never sent to another server unless the user configured it so
    (api_key_env, or OPENAI_BASE_URL set next to OPENAI_API_KEY in their environment);
    an Azure key goes only to Azure.
    """
    where = "" if server.name == DEFAULT else f" ([servers.{server.name}])"
    if server.api_key_env:
        name = server.api_key_env
        if env.get(name):
            return env[name], f"API key from ${name}"
        return "", f"No API key: ${name} (api_key_env{where} in config.toml) is not set or is empty"
    if server.api_key_file:
        return _key_from_file(server.api_key_file, where)
    if server.api_key_command:
        return _key_from_command(server.api_key_command, where, env)

    if server.azure:
        # Azure's own convention; it is meant for Azure, so using it leaks nothing.
        if env.get("AZURE_OPENAI_API_KEY"):
            return env["AZURE_OPENAI_API_KEY"], "API key from $AZURE_OPENAI_API_KEY"
        return "", ("No API key for Azure OpenAI: set AZURE_OPENAI_API_KEY, or set api_key_env "
                    f"in config.toml{where} to the name of the variable that holds the key")

    if server.base_url_source in ("default", "env") or is_openai(server.base_url):
        if env.get("OPENAI_API_KEY"):
            return env["OPENAI_API_KEY"], "API key from $OPENAI_API_KEY"
        if not is_openai(server.base_url):
            # OPENAI_BASE_URL at a local server and no key anywhere: nothing can leak.
            return PLACEHOLDER_KEY, (
                f"No OPENAI_API_KEY; sending a placeholder key to {mask_url(server.base_url)} "
                "(OPENAI_BASE_URL). Set OPENAI_API_KEY if that server needs a key"
            )
        return "", ("No API key: set OPENAI_API_KEY (or api_key_env in config.toml), "
                    "or point base_url at a local server")

    origin = "--base-url" if server.base_url_source == "flag" else f"base_url{where} in config.toml"
    return PLACEHOLDER_KEY, (
        f"Not sending OPENAI_API_KEY to {mask_url(server.base_url)} ({origin}); if that server "
        f"needs a key, set api_key_env{where} in config.toml to the name of the variable holding it"
    )


def _key_from_file(path_text: str, where: str) -> tuple[str, str]:
    path = Path(path_text).expanduser()
    try:
        with path.open("rb") as file:
            raw = file.read(65536)
        key = raw.decode("utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        return "", f"No API key: cannot read api_key_file{where} {clean_line(str(path))}: {reason}"
    if not key or "\n" in key:
        problem = "is empty" if not key else "holds more than one line"
        return "", f"No API key: api_key_file{where} {clean_line(str(path))} {problem}; put only the key in it"
    return key, f"API key from {clean_line(str(path))}"


def _key_from_command(command: tuple[str, ...], where: str, env: Mapping[str, str]) -> tuple[str, str]:
    import subprocess

    shown = clean_line(command[0])
    try:
        done = subprocess.run(list(command), capture_output=True, timeout=KEY_COMMAND_SECONDS, env=dict(env),
                              check=False, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        return "", f"No API key: api_key_command{where} {shown!r} was not found; check its name and PATH"
    except subprocess.TimeoutExpired:
        return "", f"No API key: api_key_command{where} {shown!r} did not finish in {KEY_COMMAND_SECONDS:g} s"
    except OSError as exc:
        return "", f"No API key: api_key_command{where} {shown!r} could not run: {exc.strerror or exc}"
    if done.returncode != 0:
        # Its error output may say why (a locked password store), but never its output.
        said = clean_line(done.stderr.decode("utf-8", "replace").strip().splitlines()[-1]) if done.stderr.strip() \
            else ""
        return "", (f"No API key: api_key_command{where} {shown!r} failed (exit {done.returncode})"
                    + (f": {said[:200]}" if said else ""))
    key = done.stdout.decode("utf-8", "replace").strip()
    if not key or "\n" in key:
        problem = "printed nothing" if not key else "printed more than one line"
        return "", f"No API key: api_key_command{where} {shown!r} {problem}; it must print only the key"
    return key, f"API key from api_key_command{where} ({shown})"
