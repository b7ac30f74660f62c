"""config.toml -> Settings, strictly: a typo is an error with file:line, never ignored.

Base URL precedence is flag > config > env (OPENAI_BASE_URL) > default. Flags are
applied by the caller with `with_overrides`. The API key itself never lives in the
config: only the name of the environment variable that holds it.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tuichat import paths
from tuichat.core.errors import ConfigError, UsageError
from tuichat.core.text import mask_url
from tuichat.core.tomlfile import TomlDoc, line_of, read_toml, type_name
from tuichat.servers import DEFAULT as DEFAULT_SERVER
from tuichat.servers import (  # noqa: F401 - OPENAI_HOST and PLACEHOLDER_KEY: also imported from here
    OPENAI_HOST,
    PLACEHOLDER_KEY,
    Server,
    azure_version,
    check_server,
    check_servers,
    default_server,
    server_key,
)

DEFAULT_MODEL = "gpt-4o-mini"

# Binding ids users may remap under [keymap]. The UI gives its bindings these ids, so this
# tuple is the one list both sides agree on.
# Every binding id the app defines (tests/test_app.py keeps this list and the app in step).
KEYMAP_IDS = (
    "send",
    "newline",
    "stop",
    "retry",
    "continue_reply",
    "reset",
    "new_thread",
    "focus_threads",
    "focus_composer",
    "regenerate",
    "edit_last",
    "edit_last_up",
    "pick_model",
    "complete",
    "help",
    "toggle_threads",
    "page_up",
    "page_down",
    "transcript_top",
    "transcript_bottom",
    "focus_transcript",
    "previous_version",
    "next_version",
    "menu_down",
    "rename_thread",
    "delete_thread",
    "threads.delete",
    "threads.clear_filter",
    "threads.into_list",
    "search",
    "search.next",
    "search.previous",
    "copy_reply",
    "previous_message",
    "next_message",
    "copy_message",
    "copy_code",
    "dialog.cancel",
    "help.close",
    "picker.cancel",
    "quit",
)

BASE_URL_SOURCES = ("default", "env", "config", "flag")


@dataclass
class Settings:
    """Everything config.toml can set, plus where base_url came from."""

    model: str = DEFAULT_MODEL
    base_url: str | None = None
    api_key_env: str | None = None  # the NAME of the variable holding the key
    default_persona: str = "default"
    keymap: dict[str, str] = field(default_factory=dict)  # binding id -> "ctrl+e" / "f2,ctrl+n"
    azure_api_version: str | None = None  # set: base_url is an Azure OpenAI endpoint (a dated API version)
    azure: bool = False  # base_url (or AZURE_OPENAI_ENDPOINT) is Azure OpenAI; the v1 API unless a version is set
    api_key_command: tuple[str, ...] = ()  # a command that prints the key (a password manager)
    api_key_file: str | None = None  # a file that holds the key
    headers: tuple[tuple[str, str], ...] = ()  # sent with every request to the default server
    ca_bundle: str | None = None  # CA certificates (PEM) to trust, e.g. a corporate proxy's
    server: str | None = None  # the server used when --server is not given (a [servers] name)
    servers: dict[str, Server] = field(default_factory=dict)  # [servers.NAME]
    timeout: float = 60.0
    theme: str | None = None
    auto_title: bool = False  # ask the model for a short title after a thread's first reply
    models: list[str] = field(default_factory=list)  # offered by the model picker
    # [prices."MODEL"] input = ..., output = ...: US dollars per million tokens, which
    # win over the price table (and price models it does not know, local ones included).
    prices: dict[str, Price] = field(default_factory=dict)
    budget: Budget | None = None  # [budget]: what a calendar month may spend
    context_window: int | None = None  # tokens the model's context holds; older turns are left out to fit
    base_url_source: str = "default"  # "default" | "env" | "config" | "flag"
    config_path: Path | None = None  # the file that was read, None when none existed


_STRING_KEYS = ("model", "default_persona", "azure_api_version", "theme", "server")
_BOOL_KEYS = ("auto_title",)
# The top level is the server named "default": these keys are checked by servers.check_server,
# as those of a [servers.NAME] table are.
_SERVER_KEYS = ("base_url", "api_key_env", "api_key_command", "api_key_file", "models", "headers", "timeout",
                "ca_bundle", "azure")
# Every top-level key, in the order an "unknown key" error lists them.
VALID_KEYS = ("model", "base_url", "api_key_env", "default_persona", "azure_api_version", "theme", "server",
              "auto_title", "api_key_command", "api_key_file", "headers", "ca_bundle", "azure", "keymap", "timeout",
              "models", "prices", "budget", "context_window", "servers")
_PRICE_KEYS = ("input", "output")
MAX_PRICE = 1e6  # dollars per million tokens: far above any model's


@dataclass(frozen=True)
class Budget:
    """What a calendar month may spend: US dollars and/or tokens (either may be None)."""

    dollars: float | None = None
    tokens: int | None = None


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens."""

    input: float
    output: float


_URL_HINT = "http:// or https:// URL, e.g. http://localhost:11434/v1"
# Seconds; a day is already far past any reply. NaN and infinity are refused.
MAX_TIMEOUT = 86400.0


def url_problem(value: str) -> str | None:
    """None for a usable http(s) base URL, else what is wrong with it and how to write it
    ("is not an http:// or https:// URL, e.g. ..."), to follow the setting's name."""
    if not value.strip():
        return f"is empty; it must be an {_URL_HINT}"
    if any(c.isspace() or not c.isprintable() for c in value):
        return f"contains spaces or control characters; it must be an {_URL_HINT}"
    try:
        url = urlsplit(value)
        port = url.port  # raises ValueError for a port that is not a number in 0-65535
    except ValueError as exc:
        if "port" in str(exc).lower():
            return "has a bad port; a port is a number from 1 to 65535, e.g. http://localhost:11434/v1"
        return f"is not a valid URL ({exc}); it must be an {_URL_HINT}"
    if url.scheme not in ("http", "https"):
        if re.fullmatch(r"[\w.-]+(:\d+)?(/\S*)?", value):  # host:port/path without a scheme
            return f"has no http:// or https:// at the start; write it as http://{mask_url(value)}"
        scheme = f"{url.scheme}:" if url.scheme else "no scheme"
        return f"must start with http:// or https:// (it has {scheme}); e.g. http://localhost:11434/v1"
    if not url.hostname:
        return f"has no host name; it must be an {_URL_HINT}"
    if port == 0:
        return "has port 0; use the port the server listens on, 1-65535"
    return None


def unknown_key(doc: TomlDoc, key: str, valid: tuple[str, ...], table: str | None = None) -> UsageError:
    where = f"[{table}] " if table else ""
    hint = difflib.get_close_matches(key, valid, n=1)
    guess = f" (did you mean '{hint[0]}'?)" if hint else ""
    return doc.fail(
        f"unknown {where}key '{key}'{guess}; valid keys: {', '.join(valid)}", key, table
    )


def _check_top(doc: TomlDoc) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in doc.data.items():
        if key == "api_key":
            raise doc.fail(
                "config.toml must not hold the key itself; put it in an environment "
                "variable and set api_key_env to its name",
                key,
            )
        if key not in VALID_KEYS:
            raise unknown_key(doc, key, VALID_KEYS)
        if key in _STRING_KEYS:
            if not isinstance(value, str):
                raise doc.fail(f"'{key}' must be a string, got {type_name(value)}", key)
            if not value.strip():
                raise doc.fail(f"'{key}' is empty; set a value or remove the line", key)
            value = value.strip()
        if key in _BOOL_KEYS and not isinstance(value, bool):
            raise doc.fail(f"'{key}' must be true or false, got {type_name(value)}", key)
        values[key] = value

    if "keymap" in values:
        values["keymap"] = _check_keymap(doc, values["keymap"])
    own = check_server(doc, {key: values[key] for key in _SERVER_KEYS if key in values}, DEFAULT_SERVER, None)
    for key in _SERVER_KEYS:
        if key in values:
            values[key] = list(own.models) if key == "models" else getattr(own, key)
    if "azure_api_version" in values:
        version = azure_version(values["azure_api_version"])
        if version is False:
            raise doc.fail("'azure_api_version' must be a dated Azure API version such as \"2024-10-21\", or "
                           f"\"v1\"; got {values['azure_api_version']!r}", "azure_api_version")
        values["azure_api_version"] = version
        values["azure"] = True
    if "servers" in values:
        values["servers"] = check_servers(doc, values["servers"])
    if "server" in values and values["server"] != "default" and values["server"] not in values.get("servers", {}):
        known = ", ".join(["default", *values.get("servers", {})])
        raise doc.fail(f"'server' names {values['server']!r}, which is not a server here; the servers are: {known} "
                       "(add a [servers.NAME] table, or 'azure' with AZURE_OPENAI_ENDPOINT)", "server")
    if "prices" in values:
        values["prices"] = _check_prices(doc, values["prices"])
    if "budget" in values:
        values["budget"] = _check_budget(doc, values["budget"])
    if "context_window" in values:
        window = values["context_window"]
        if isinstance(window, bool) or not isinstance(window, int) or not 256 <= window < 2**40:
            raise doc.fail(f"'context_window' must be a whole number of tokens, at least 256, got {window!r}",
                           "context_window")
    return values


def _check_budget(doc: TomlDoc, budget: Any) -> Budget:
    """[budget] dollars = 20 and/or tokens = 2_000_000: per calendar month."""
    if not isinstance(budget, dict):
        raise doc.fail(f"'budget' must be a table ([budget]), got {type_name(budget)}", "budget")
    for key in budget:
        if key not in ("dollars", "tokens"):
            raise unknown_key(doc, key, ("dollars", "tokens"), table="budget")
    if not budget:
        raise doc.fail("[budget] is empty: set dollars and/or tokens (a month's allowance)", None, "budget")
    dollars, tokens = budget.get("dollars"), budget.get("tokens")
    if dollars is not None and (isinstance(dollars, bool) or not isinstance(dollars, int | float)
                                or not 0 < dollars <= MAX_PRICE):
        raise doc.fail(f"[budget] 'dollars' must be a number of US dollars above 0, got {dollars!r}", "dollars",
                       "budget")
    if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int) or not 0 < tokens < 2**53):
        raise doc.fail(f"[budget] 'tokens' must be a whole number of tokens above 0, got {tokens!r}", "tokens",
                       "budget")
    return Budget(float(dollars) if dollars is not None else None, tokens)


def _check_prices(doc: TomlDoc, prices: Any) -> dict[str, Price]:
    """[prices."gpt-4o"] input = 2.5, output = 10 (dollars per million tokens)."""
    if not isinstance(prices, dict):
        raise doc.fail(f"'prices' must be tables such as [prices.\"gpt-4o\"], got {type_name(prices)}", "prices")
    result: dict[str, Price] = {}
    for model, price in prices.items():
        def fail(problem: str, key: str | None = None) -> UsageError:
            for header in (f'prices."{model}"', f"prices.{model}"):
                if line_of(doc.text, key, header) is not None:
                    return doc.fail(problem, key, header)
            return doc.fail(problem, None, "prices")

        where = f'[prices."{model}"]'
        if not isinstance(price, dict):
            raise fail(f"{where} must be a table with input and output (dollars per million tokens), "
                       f"got {type_name(price)}")
        for key in price:
            if key not in _PRICE_KEYS:
                raise fail(f"{where}: unknown key '{key}'; valid keys: input, output", key)
        values = []
        for key in _PRICE_KEYS:
            if key not in price:
                raise fail(f"{where} has no '{key}': give both input and output, in dollars per million tokens")
            value = price[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_PRICE:
                raise fail(f"{where} '{key}' must be a number of dollars per million tokens, 0 or more, "
                           f"got {value!r}", key)
            values.append(float(value))
        result[model] = Price(*values)
    return result


def check_model_list(doc: TomlDoc, models: Any, table: str | None = None) -> list[str]:
    """`models = ["gpt-4o", "qwen3:8b"]`: the model picker's extra choices."""
    where = f"[{table}] " if table else ""
    if not isinstance(models, list):
        raise doc.fail(f"{where}'models' must be a list of model names, got {type_name(models)}", "models", table)
    result: list[str] = []
    for item in models:
        if not isinstance(item, str):
            raise doc.fail(f"{where}'models' must hold only strings, got {type_name(item)}", "models", table)
        if not item.strip():
            raise doc.fail(f"{where}'models' holds an empty name; remove it", "models", table)
        if item.strip() not in result:
            result.append(item.strip())
    return result


def _check_keymap(doc: TomlDoc, keymap: Any) -> dict[str, str]:
    from tuichat.keymap import KeyNameError, clash, normalize_keys

    if not isinstance(keymap, dict):
        raise doc.fail(f"'keymap' must be a table ([keymap]), got {type_name(keymap)}", "keymap")
    result: dict[str, str] = {}
    for binding, keys in keymap.items():
        if binding not in KEYMAP_IDS:
            raise unknown_key(doc, binding, KEYMAP_IDS, table="keymap")
        if not isinstance(keys, str):
            raise doc.fail(
                f"[keymap] '{binding}' must be a string such as \"ctrl+e\" or \"f2,ctrl+n\", "
                f"got {type_name(keys)}",
                binding,
                "keymap",
            )
        if not keys.strip():
            raise doc.fail(f"[keymap] '{binding}' is empty; name a key or remove the line", binding, "keymap")
        try:
            result[binding] = normalize_keys(keys)
        except KeyNameError as exc:
            raise doc.fail(f"[keymap] '{binding}': {exc}", binding, "keymap") from None
    if found := clash(result):
        first, second, key, scope = found
        how = "set here" if second in result else "its default key"
        raise doc.fail(
            f"[keymap] '{first}' and '{second}' both use {key} ({how} for '{second}') and are "
            f"live at the same time in {scope}; give one of them another key",
            first,
            "keymap",
        )
    return result


def load_settings(path: Path | None = None, *, env: Mapping[str, str] = os.environ) -> Settings:
    """Read config.toml (the default location when `path` is None) and OPENAI_BASE_URL.

    A missing default file means defaults; a missing file the user named is an error.
    """
    explicit = path is not None
    path = path if path is not None else paths.config_file()
    values: dict[str, Any] = {}
    config_path: Path | None = None
    if explicit or path.exists():
        doc = read_toml(path, ConfigError, "Invalid config")
        values = _check_top(doc)
        config_path = path

    settings = Settings(**values, config_path=config_path)
    if settings.base_url is not None:
        settings.base_url_source = "config"
    elif env_url := (env.get("OPENAI_BASE_URL") or "").strip():
        if problem := url_problem(env_url):
            raise ConfigError("Invalid OPENAI_BASE_URL", f"'{mask_url(env_url)}' {problem}; fix or unset it")
        settings.base_url = env_url
        settings.base_url_source = "env"
    return settings


def with_overrides(settings: Settings, model: str | None = None, base_url: str | None = None) -> Settings:
    """A copy with command-line flags applied; flags beat config and environment."""
    changes: dict[str, Any] = {}
    if model:
        changes["model"] = model
    if base_url is not None:  # given, even if empty: `--base-url ""` is a mistake
        if problem := url_problem(base_url):
            raise UsageError("Invalid --base-url", f"'{mask_url(base_url)}' {problem}")
        changes["base_url"] = base_url
        changes["base_url_source"] = "flag"
    return replace(settings, **changes)


def resolve_api_key(settings: Settings | Server, env: Mapping[str, str] = os.environ) -> tuple[str, str]:
    """(key, note) for the default server (or the server given): see servers.server_key."""
    server = settings if isinstance(settings, Server) else default_server(settings)
    return server_key(server, env)
