"""Bad input, tried as a careless user (and a broken server) would, through the real CLI.

Every row of CASES is one bad input: a config or persona file, a flag, a history command,
an import file, or a server reply of the wrong shape. Each runs `python -m tuichat ...` in
its own process with its own config and data directories, and must finish (a timeout
catches a hang, such as a read from a FIFO), exit with the expected code (2 for usage
errors), print one line on stderr that names the problem (and, where there is one, the
fix), and never print a traceback or "unexpected error".

    pytest tests/test_bad_inputs.py -q    # N passed = N bad inputs handled cleanly

The processes run a few at a time from one module fixture, so the table stays fast.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from fake_openai import FakeServer, Reply

SRC = str(Path(__file__).resolve().parents[1] / "src")
TIMEOUT = 60  # seconds: only a hang comes near this, even on a busy machine
GOOD_PERSONA = 'name = "{name}"\ndescription = "d"\nsystem_prompt = "You are {name}."\n'
DEEP = 100_000  # nesting levels: far past any recursion limit


@dataclass
class Case:
    """One bad input. `args` and file contents may use {dir} (this case's directory)
    and {url} (its fake server's base URL). `files` maps a name in {dir} to its content:
    str or bytes, "<fifo>", "<dir>", or ("<sparse>", size)."""

    id: str
    args: list[str]
    words: tuple[str, ...] = ()  # must all appear in stderr (case-insensitive)
    code: int = 2
    files: dict[str, Any] = field(default_factory=dict)
    stdin: str | bytes | None = None
    env: dict[str, str] = field(default_factory=dict)
    reply: Reply | None = None  # a fake server answers with this; None: no server
    out: tuple[str, ...] = ()  # must all appear in stdout
    not_out: tuple[str, ...] = ()  # must not appear in stdout
    lines: int | None = 1  # lines on stderr; None: argparse's usage line comes first
    before: list[list[str]] = field(default_factory=list)  # commands run first (must exit 0)


def config(text: str, *words: str, **kw: Any) -> Case:
    return Case("", ["--config", "{dir}/config.toml", "--list-personas"], words,
                files={"config.toml": text, **kw.pop("files", {})}, **kw)


def persona(text: str | bytes, *words: str, **kw: Any) -> Case:
    return Case("", ["--persona", "{dir}/p.toml", "-p", "hi"], words, files={"p.toml": text}, **kw)


def export_file(mutate: Callable[[dict], Any]) -> str:
    data = {
        "tuichat_export": 1,
        "thread": {"id": 1, "title": "t", "persona": "default", "model": "m",
                   "created_at": 1_700_000_000.0, "updated_at": 1_700_000_100.0},
        "messages": [
            {"role": "user", "content": "hello", "status": "done", "model": None, "created_at": 1_700_000_000.0},
            {"role": "assistant", "content": "hi", "status": "done", "model": "m", "created_at": 1_700_000_050.0,
             "usage": {"prompt_tokens": 3, "completion_tokens": 1}},
        ],
    }
    mutate(data)
    return json.dumps(data)  # NaN and Infinity come out as the literals Python's json reads


def chatgpt_file(mutate: Callable[[dict], Any]) -> str:
    def node(node_id: str, parent: str | None, children: list[str], role: str | None, text: str) -> dict:
        message = None if role is None else {
            "id": node_id, "author": {"role": role}, "create_time": 1_700_000_100.0,
            "content": {"content_type": "text", "parts": [text]}, "metadata": {},
        }
        return {"id": node_id, "message": message, "parent": parent, "children": children}

    conversation = {
        "id": "conv-1", "title": "Trip", "create_time": 1_700_000_000.0, "update_time": 1_700_000_900.0,
        "current_node": "a1",
        "mapping": {"root": node("root", None, ["u1"], None, ""), "u1": node("u1", "root", ["a1"], "user", "Tokyo?"),
                    "a1": node("a1", "u1", [], "assistant", "Tower.")},
    }
    mutate(conversation)
    return json.dumps([conversation])


def imp(content: str | bytes, *words: str, code: int = 2, **kw: Any) -> Case:
    return Case("", ["import", "{dir}/in.json", "--db", "{dir}/h.db"], words, code=code,
                files={"in.json": content}, **kw)


def imported_ok(content: str, **kw: Any) -> Case:
    """An import that must succeed, after which the history stays reachable."""
    return Case("", ["threads", "--db", "{dir}/h.db"], (), code=0, files={"in.json": content},
                before=[["import", "{dir}/in.json", "--db", "{dir}/h.db"]], lines=0, **kw)


def pipe(reply: Reply, *out: str, not_out: tuple[str, ...] = ()) -> Case:
    return Case("", ["-p", "hi", "--base-url", "{url}", "--db", "{dir}/h.db"], (), code=0, reply=reply,
                out=out, not_out=not_out, lines=0)


def usage(value: Any) -> Reply:
    return Reply.text("Fine answer.", usage={"prompt_tokens": value, "completion_tokens": 2, "total_tokens": value})


def parts(*deltas: dict, text: str = "") -> Reply:
    return Reply(chunks=[text] if text else [], deltas=list(deltas))


def keymap(line: str, *words: str) -> Case:
    return config(f"[keymap]\n{line}\n", *words)


def set_(item: dict, path: str, value: Any) -> None:
    *keys, last = path.split(".")
    for key in keys:
        item = item[int(key)] if isinstance(item, list) else item[key]
    if isinstance(item, list):
        item[int(last)] = value
    else:
        item[last] = value


def node_set(path: str, value: Any) -> Callable[[dict], None]:
    return lambda c: set_(c, path, value)


def named(**cases: Case) -> list[Case]:
    for name, case in cases.items():
        case.id = name
    return list(cases.values())


EXPORT_DB = [["import", "{dir}/seed.json", "--db", "{dir}/h.db"]]
SEED = {"seed.json": export_file(lambda d: None)}

CASES = named(
    # --- config.toml: [keymap] ---------------------------------------------------------
    keymap_unknown_key_name=keymap('send = "notakey"', "config.toml:2", "'notakey' is not a key name", "ctrl+e"),
    keymap_newline_is_enter=keymap('newline = "enter"', "config.toml:2", "'newline'", "'send'", "another key"),
    keymap_send_is_ctrl_j=keymap('send = "ctrl+j"', "'send'", "'newline'", "ctrl+j"),
    keymap_send_is_ctrl_m=keymap('newline = "ctrl+m"', "'newline'", "'send'", "enter"),
    keymap_retry_is_quit_key=keymap('retry = "ctrl+q"', "'retry'", "'quit'"),
    keymap_two_user_keys_clash=config('[keymap]\nreset = "f9"\nsearch = "f9"\n', "'reset'", "'search'", "f9"),
    keymap_transcript_clash=keymap('copy_code = "c"', "'copy_code'", "'copy_message'"),
    keymap_bad_modifier=keymap('reset = "contrl+e"', "'contrl'", "did you mean 'ctrl'"),
    keymap_misspelled_key=keymap('retry = "escpe"', "'escpe'", "did you mean 'escape'"),
    keymap_empty_in_list=keymap('quit = "ctrl+q,,f10"', "empty key name"),
    keymap_trailing_plus=keymap('search = "ctrl+"', "no key after the '+'"),
    keymap_empty_value=keymap('stop = ""', "'stop' is empty"),
    keymap_blank_value=keymap('stop = "   "', "'stop' is empty"),
    keymap_number_value=keymap("send = 5", "'send' must be a string"),
    keymap_list_value=keymap('send = ["enter"]', "'send' must be a string"),
    keymap_unknown_binding=keymap('sned = "enter"', "unknown [keymap] key 'sned'", "did you mean 'send'"),
    keymap_tab_character=keymap('send = "\\t"', "'send' is empty"),
    keymap_control_character=keymap('send = "\\u001b"', "not a key name"),
    keymap_not_a_table=config('keymap = "ctrl+e"\n', "'keymap' must be a table"),
    keymap_array_of_tables=config('[[keymap]]\nsend = "enter"\n', "'keymap' must be a table"),
    # --- config.toml: values -------------------------------------------------------------
    timeout_nan=config("timeout = nan\n", "config.toml:1", "'timeout'", "greater than 0"),
    timeout_inf=config("timeout = inf\n", "'timeout'", "at most 86400"),
    timeout_minus_inf=config("timeout = -inf\n", "'timeout'"),
    timeout_negative=config("timeout = -1\n", "'timeout'", "greater than 0"),
    timeout_zero=config("timeout = 0\n", "'timeout'"),
    timeout_huge=config("timeout = 1e300\n", "'timeout'", "at most"),
    timeout_string=config('timeout = "60"\n', "'timeout' must be a number"),
    timeout_bool=config("timeout = true\n", "'timeout' must be a number"),
    base_url_port_too_big=config('base_url = "http://host:99999/v1"\n', "config.toml:1", "port", "1 to 65535"),
    base_url_port_not_number=config('base_url = "http://host:abc/v1"\n', "port"),
    base_url_bad_scheme=config('base_url = "htp:/x"\n', "http://"),
    base_url_missing_scheme=config('base_url = "localhost:11434/v1"\n', "write it as http://localhost:11434/v1"),
    base_url_ftp=config('base_url = "ftp://host/v1"\n', "http://"),
    base_url_bad_ipv6=config('base_url = "http://[::1/v1"\n', "not a valid URL"),
    base_url_no_host=config('base_url = "http:///v1"\n', "no host name"),
    base_url_space=config('base_url = "http://local host/v1"\n', "spaces"),
    base_url_escape=config('base_url = "http://host/\\u001b[31m"\n', "control characters"),
    base_url_number=config("base_url = 11434\n", "'base_url' must be a string"),
    base_url_empty=config('base_url = ""\n', "'base_url' is empty"),
    base_url_port_zero=config('base_url = "http://host:0/v1"\n', "port 0"),
    model_number=config("model = 1\n", "'model' must be a string"),
    api_key_in_config=config('api_key = "sk-abcdef123456"\n', "must not hold the key", "api_key_env"),
    api_key_env_is_a_key=config('api_key_env = "sk-abcdef123456"\n', "looks like an API key"),
    unknown_key=config('modle = "x"\n', "unknown key 'modle'", "did you mean 'model'"),
    models_not_list=config('models = "gpt-4o"\n', "'models' must be a list"),
    models_not_strings=config("models = [1, 2]\n", "'models' must hold only strings"),
    auto_title_string=config('auto_title = "yes"\n', "true or false"),
    theme_number=config("theme = 3\n", "'theme' must be a string"),
    toml_syntax=config('model = "a"\ntimeout = \n', "config.toml:2", "invalid TOML"),
    toml_deep_arrays=config("a = " + "[" * DEEP + "]" * DEEP + "\n", "nested too deeply"),
    toml_deep_tables=config("a = " + "{b=" * DEEP + "1" + "}" * DEEP + "\n", "nested too deeply"),
    toml_not_utf8=config(b'model = "\xff\xfe"\n', "not valid UTF-8"),  # type: ignore[arg-type]
    toml_too_big=Case("", ["--config", "{dir}/c.toml", "--list-personas"], ("more than the 1 MiB limit",),
                      files={"c.toml": ("<sparse>", 2 * 1024 * 1024)}),
    config_dev_zero=Case("", ["--config", "/dev/zero", "--list-personas"], ("/dev/zero", "a device", "a file")),
    config_fifo=Case("", ["--config", "{dir}/fifo", "--list-personas"], ("pipe (FIFO)",), files={"fifo": "<fifo>"}),
    config_dev_stdin_pipe=Case("", ["--config", "/dev/stdin", "--list-personas"], ("not a regular file",), stdin="x"),
    config_directory=Case("", ["--config", "{dir}/d", "--list-personas"], ("directory",), files={"d": "<dir>"}),
    config_missing=Case("", ["--config", "{dir}/none.toml", "--list-personas"], ("none.toml", "not found")),
    # --- environment and flags --------------------------------------------------------------
    env_base_url_port=Case("", ["--list-personas"], ("OPENAI_BASE_URL", "port", "unset"),
                           env={"OPENAI_BASE_URL": "http://localhost:99999/v1"}),
    env_base_url_no_scheme=Case("", ["--list-personas"], ("OPENAI_BASE_URL", "http://localhost:8080"),
                                env={"OPENAI_BASE_URL": "localhost:8080"}),
    flag_base_url_port=Case("", ["--base-url", "http://host:99999", "--list-personas"], ("--base-url", "port")),
    flag_base_url_scheme=Case("", ["--base-url", "htp:/x", "--list-personas"], ("--base-url", "http://")),
    flag_base_url_no_scheme=Case("", ["--base-url", "host:8000/v1", "-p", "hi"], ("write it as http://host:8000/v1",)),
    flag_base_url_ipv6=Case("", ["--base-url", "http://[::1", "--list-personas"], ("not a valid URL",)),
    flag_base_url_empty=Case("", ["--base-url", "", "--list-personas"], ("--base-url", "empty")),
    flag_base_url_javascript=Case("", ["--base-url", "javascript:alert(1)", "--list-personas"], ("http://",)),
    flag_base_url_password_masked=Case("", ["--base-url", "ftp://me:hunter2@host", "--list-personas"], ("http://",)),
    flag_unknown=Case("", ["--nonsense"], ("unrecognized arguments",), lines=None),
    flag_command_typo=Case("", ["thread"], ("unrecognized arguments: thread",), lines=None),
    flag_persona_and_continue=Case("", ["--persona", "default", "--continue", "-p", "hi"], ("do not mix",)),
    # --- personas --------------------------------------------------------------------------
    persona_dev_zero=Case("", ["--persona", "/dev/zero", "-p", "hi"], ("/dev/zero", "a device")),
    persona_fifo=Case("", ["--persona", "{dir}/p.toml", "-p", "hi"], ("pipe (FIFO)",), files={"p.toml": "<fifo>"}),
    persona_directory=Case("", ["--persona", "{dir}/d/", "-p", "hi"], ("directory",), files={"d": "<dir>"}),
    persona_missing=Case("", ["--persona", "{dir}/nope.toml", "-p", "hi"], ("nope.toml", "not found")),
    persona_too_big=Case("", ["--persona", "{dir}/p.toml", "-p", "hi"], ("1 MiB limit",),
                         files={"p.toml": ("<sparse>", 3 * 1024 * 1024)}),
    persona_deep=persona("a = " + "[" * DEEP + "]" * DEEP + "\n", "nested too deeply"),
    persona_bad_toml=persona('name = "x\n', "p.toml:1", "invalid TOML"),
    persona_not_utf8=persona(b'name = "\xff"\n', "not valid UTF-8"),
    persona_temperature_nan=persona(GOOD_PERSONA.format(name="x") + "temperature = nan\n", "'temperature'", "0 and 2"),
    persona_temperature_inf=persona(GOOD_PERSONA.format(name="x") + "temperature = inf\n", "'temperature'"),
    persona_temperature_string=persona(GOOD_PERSONA.format(name="x") + 'temperature = "hot"\n', "must be a number"),
    persona_max_tokens_huge=persona(GOOD_PERSONA.format(name="x") + "max_tokens = 99999999999999999999\n",
                                    "'max_tokens'", "positive integer"),
    persona_max_tokens_negative=persona(GOOD_PERSONA.format(name="x") + "max_tokens = -5\n", "'max_tokens'"),
    persona_max_tokens_float=persona(GOOD_PERSONA.format(name="x") + "max_tokens = 1.5\n", "must be an integer"),
    persona_name_number=persona('name = 5\ndescription = "d"\nsystem_prompt = "s"\n', "'name' must be a string"),
    persona_missing_prompt=persona('name = "x"\ndescription = "d"\n', "missing required key 'system_prompt'"),
    persona_unknown_key=persona(GOOD_PERSONA.format(name="x") + 'temprature = 1\n', "unknown key 'temprature'"),
    persona_empty_file=persona("", "missing required key"),
    persona_unknown_name=Case("", ["--persona", "pirate", "-p", "hi"], ("no persona named 'pirate'", "Available")),
    persona_broken_chosen=Case("", ["--persona", "broken", "-p", "hi"], ("broken.toml:1", "invalid TOML"),
                               files={"config/tuichat/personas/broken.toml": 'name = "broken\n'}),
    persona_broken_listed=Case("", ["--list-personas"], ("warning", "broken.toml:1"), code=0,
                               files={"config/tuichat/personas/broken.toml": 'name = "broken\n'}, out=("ojousama",)),
    # --- the database ------------------------------------------------------------------------
    db_dev_zero=Case("", ["threads", "--db", "/dev/zero"], ("/dev/zero", "a device", "a file")),
    db_directory=Case("", ["threads", "--db", "{dir}/d"], ("directory",), files={"d": "<dir>"}),
    db_fifo=Case("", ["threads", "--db", "{dir}/fifo"], ("pipe (FIFO)",), files={"fifo": "<fifo>"}),
    db_text_file=Case("", ["threads", "--db", "{dir}/notes.txt"], ("notes.txt",), files={"notes.txt": "x" * 5000}),
    # --- history commands ----------------------------------------------------------------------
    export_huge_id=Case("", ["export", "99999999999999999999999", "--db", "{dir}/h.db"],
                        ("no thread has id 99999999999999999999999", "tuichat threads"), lines=None),
    export_negative_id=Case("", ["export", "-1", "--db", "{dir}/h.db"], ("no thread has id -1",), lines=None),
    export_zero_id=Case("", ["export", "0", "--db", "{dir}/h.db"], ("no thread has id 0",), lines=None),
    export_word_id=Case("", ["export", "abc", "--db", "{dir}/h.db"], ("'abc' is not a thread id",), lines=None),
    export_float_id=Case("", ["export", "1.5", "--db", "{dir}/h.db"], ("'1.5' is not a thread id",), lines=None),
    export_missing_id=Case("", ["export", "42", "--db", "{dir}/h.db"], ("No thread with id 42", "tuichat threads")),
    export_bad_format=Case("", ["export", "1", "--format", "pdf", "--db", "{dir}/h.db"], ("invalid choice",), lines=None),
    export_output_is_directory=Case("", ["export", "1", "-o", "{dir}/d", "--db", "{dir}/h.db"], ("Cannot write",),
                                    files={"d": "<dir>", **SEED}, before=EXPORT_DB),
    threads_limit_zero=Case("", ["threads", "--limit", "0", "--db", "{dir}/h.db"], ("must be 1 or more",), lines=None),
    threads_limit_negative=Case("", ["threads", "--limit", "-3", "--db", "{dir}/h.db"], ("must be 1 or more",),
                                lines=None),
    threads_limit_word=Case("", ["threads", "--limit", "many", "--db", "{dir}/h.db"], ("not a whole number",),
                            lines=None),
    threads_limit_huge=Case("", ["threads", "--limit", "99999999999999999999999", "--db", "{dir}/h.db"], (),
                            code=0, lines=0, files=SEED, before=EXPORT_DB, out=("t",)),
    search_limit_huge=Case("", ["search", "hello", "--limit", "99999999999999999999", "--db", "{dir}/h.db"], (),
                           code=0, lines=0, files=SEED, before=EXPORT_DB, out=("hello",)),
    search_empty_query=Case("", ["search", "", "--db", "{dir}/h.db"], ("No messages match",), code=0),
    search_quote=Case("", ["search", '"', "--db", "{dir}/h.db"], ("No messages match",), code=0),
    search_fts_syntax=Case("", ["search", "NEAR(", "AND", "*", "--db", "{dir}/h.db"], ("No messages match",), code=0),
    search_control_chars=Case("", ["search", "\x1b[2J", "--db", "{dir}/h.db"], ("No messages match",), code=0),
    delete_huge_id=Case("", ["delete", "99999999999999999999999", "--db", "{dir}/h.db"], ("no thread has id",),
                        lines=None),
    delete_missing_id=Case("", ["delete", "42", "--db", "{dir}/h.db"], ("No thread with id 42", "tuichat threads")),
    delete_word_id=Case("", ["delete", "first", "--db", "{dir}/h.db"], ("is not a thread id",), lines=None),
    # --- import: the file itself -----------------------------------------------------------------
    import_missing=Case("", ["import", "{dir}/none.json", "--db", "{dir}/h.db"], ("none.json", "no such file")),
    import_directory=Case("", ["import", "{dir}/d", "--db", "{dir}/h.db"], ("directory",), files={"d": "<dir>"}),
    import_fifo=Case("", ["import", "{dir}/fifo", "--db", "{dir}/h.db"], ("pipe (FIFO)",), files={"fifo": "<fifo>"}),
    import_dev_zero=Case("", ["import", "/dev/zero", "--db", "{dir}/h.db"], ("a device",)),
    import_dev_stdin_pipe=Case("", ["import", "/dev/stdin", "--db", "{dir}/h.db"], ("not a regular file",),
                               stdin="[]"),
    import_too_big=Case("", ["import", "{dir}/big.json", "--db", "{dir}/h.db"], ("512 MiB limit",),
                        files={"big.json": ("<sparse>", 513 * 1024 * 1024)}),
    import_not_json=imp("this is not json", "not JSON", "line 1"),
    import_empty=imp("", "not JSON"),
    import_binary=imp(b"\x00\xff\xfe\x00garbage", "not"),
    import_deep_arrays=imp("[" * DEEP + "]" * DEEP, "nested too deeply"),
    import_deep_objects=imp('{"a":' * DEEP + "1" + "}" * DEEP, "nested too deeply"),
    import_huge_integer=imp("[" + "9" * 10_000 + "]", "not JSON tuichat can read", "thousands of digits"),
    import_a_string=imp('"hello"', "not a tuichat export"),
    import_a_number=imp("42", "not a tuichat export"),
    import_null=imp("null", "not a tuichat export"),
    import_mixed_list=imp('[{"tuichat_export": 1}, 5]', "not a tuichat export"),
    # --- import: tuichat's export with wrong values ---------------------------------------------
    export_created_minus_1e308=imported_ok(export_file(node_set("thread.created_at", -1e308))),
    export_created_1e308=imported_ok(export_file(node_set("thread.created_at", 1e308))),
    export_created_nan=imported_ok(export_file(node_set("thread.created_at", float("nan")))),
    export_created_inf=imported_ok(export_file(node_set("thread.created_at", float("inf")))),
    export_updated_minus_inf=imported_ok(export_file(node_set("thread.updated_at", float("-inf")))),
    export_created_huge_int=imported_ok(export_file(node_set("thread.created_at", 10**30))),
    export_message_time_nan=imported_ok(export_file(node_set("messages.0.created_at", float("nan")))),
    export_message_time_1e308=imported_ok(export_file(node_set("messages.1.created_at", 1e308))),
    export_usage_string=imported_ok(export_file(node_set("messages.1.usage.prompt_tokens", "many"))),
    export_usage_inf=imported_ok(export_file(node_set("messages.1.usage.prompt_tokens", 1e308))),
    export_usage_list=imported_ok(export_file(node_set("messages.1.usage", [1, 2]))),
    export_lone_surrogate=imported_ok(export_file(node_set("messages.0.content", "bad \ud800 text"))),
    export_model_number=imported_ok(export_file(node_set("messages.1.model", 5))),
    export_created_string=imp(export_file(node_set("thread.created_at", "yesterday")), "thread 1", "'created_at'"),
    export_created_bool=imp(export_file(node_set("thread.created_at", True)), "'created_at'"),
    export_thread_list=imp(export_file(node_set("thread", [])), "needs a 'thread' object"),
    export_messages_dict=imp(export_file(node_set("messages", {})), "'messages' list"),
    export_message_number=imp(export_file(node_set("messages.0", 7)), "message 1 is not an object"),
    export_role_number=imp(export_file(node_set("messages.0.role", 5)), "message 1", "'role'"),
    export_status_number=imp(export_file(node_set("messages.0.status", 5)), "'status'"),
    export_content_null=imp(export_file(node_set("messages.0.content", None)), "'content'"),
    export_version_string=imp(export_file(node_set("tuichat_export", "1")), "unsupported tuichat_export"),
    # --- import: a ChatGPT export with wrong types -------------------------------------------------
    chatgpt_mapping_list=imp(chatgpt_file(node_set("mapping", [])), "conversation 1", "'mapping'"),
    chatgpt_mapping_string=imp(chatgpt_file(node_set("mapping", "x")), "conversation 1", "'mapping'"),
    chatgpt_node_list=imported_ok(chatgpt_file(node_set("mapping.u1", []))),
    chatgpt_message_string=imported_ok(chatgpt_file(node_set("mapping.u1.message", "hello"))),
    chatgpt_author_string=imported_ok(chatgpt_file(node_set("mapping.u1.message.author", "user"))),
    chatgpt_role_number=imported_ok(chatgpt_file(node_set("mapping.u1.message.author.role", 1))),
    chatgpt_content_list=imported_ok(chatgpt_file(node_set("mapping.a1.message.content", ["Tower."]))),
    chatgpt_parts_string=imported_ok(chatgpt_file(node_set("mapping.a1.message.content.parts", "Tower."))),
    chatgpt_parts_numbers=imported_ok(chatgpt_file(node_set("mapping.a1.message.content.parts", [1, None, {}]))),
    chatgpt_metadata_list=imported_ok(chatgpt_file(node_set("mapping.a1.message.metadata", []))),
    chatgpt_model_slug_number=imported_ok(chatgpt_file(node_set("mapping.a1.message.metadata", {"model_slug": 4}))),
    chatgpt_create_time_minus_1e308=imported_ok(chatgpt_file(node_set("create_time", -1e308))),
    chatgpt_update_time_1e308=imported_ok(chatgpt_file(node_set("update_time", 1e308))),
    chatgpt_create_time_nan=imported_ok(chatgpt_file(node_set("create_time", float("nan")))),
    chatgpt_create_time_string=imported_ok(chatgpt_file(node_set("create_time", "2024-01-01"))),
    chatgpt_message_time_inf=imported_ok(chatgpt_file(node_set("mapping.u1.message.create_time", float("inf")))),
    chatgpt_current_node_number=imported_ok(chatgpt_file(node_set("current_node", 3))),
    chatgpt_current_node_missing=imported_ok(chatgpt_file(node_set("current_node", "nowhere"))),
    chatgpt_parent_cycle=imported_ok(chatgpt_file(node_set("mapping.root.parent", "a1"))),
    chatgpt_children_string=imported_ok(chatgpt_file(node_set("mapping.a1.children", "x"))),
    chatgpt_title_number=imported_ok(chatgpt_file(node_set("title", 12))),
    chatgpt_id_dict=imported_ok(chatgpt_file(node_set("id", {"x": 1}))),
    chatgpt_lone_surrogate=imported_ok(chatgpt_file(node_set("mapping.u1.message.content.parts", ["a\udc80b"]))),
    # --- pipe mode and the server ----------------------------------------------------------------
    prompt_empty=Case("", ["-p", "", "--base-url", "http://127.0.0.1:9/v1"], ("Empty prompt", "-p -")),
    prompt_empty_stdin=Case("", ["-p", "-", "--base-url", "http://127.0.0.1:9/v1"], ("Empty prompt",), stdin=""),
    prompt_no_key=Case("", ["-p", "hi"], ("No API key", "OPENAI_API_KEY"), code=1),
    prompt_stdin_invalid_utf8=Case("", ["-p", "-", "--base-url", "{url}", "--db", "{dir}/h.db"], (), code=0,
                                   stdin=b"hi \xff\xfe there", reply=Reply.text("Read it."), out=("Read it.",),
                                   lines=0),
    usage_prompt_string=pipe(usage("12"), "Fine answer."),
    usage_prompt_word=pipe(usage("many"), "Fine answer."),
    usage_prompt_null=pipe(usage(None), "Fine answer."),
    usage_prompt_float=pipe(usage(1.5), "Fine answer."),
    usage_prompt_list=pipe(usage([1]), "Fine answer."),
    usage_prompt_object=pipe(usage({"n": 1}), "Fine answer."),
    usage_prompt_negative=pipe(usage(-5), "Fine answer."),
    usage_prompt_huge=pipe(usage(10**30), "Fine answer."),
    usage_prompt_bool=pipe(usage(True), "Fine answer."),
    content_text_parts=pipe(parts({"content": [{"type": "text", "text": "Part one, "}, {"type": "text", "text": "two."}]}),
                            "Part one, two."),
    content_thinking_parts=pipe(
        parts({"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "SECRET PLAN"}]}]},
              {"content": [{"type": "text", "text": "The answer."}]}),
        "The answer.", not_out=("SECRET PLAN",)),
    content_thinking_string=pipe(parts({"content": [{"type": "thinking", "thinking": "MUSING"}]}, text="Done."),
                                 "Done.", not_out=("MUSING",)),
    content_unknown_part=pipe(parts({"content": [{"type": "image_url", "image_url": {"url": "x"}}]}, text="After."),
                              "After."),
    content_part_not_object=pipe(parts({"content": [5, None, ["x"]]}, text="Still here."), "Still here."),
    content_a_number=pipe(parts({"content": 5}, text="Numbers skipped."), "Numbers skipped."),
    content_an_object=pipe(parts({"content": {"type": "text", "text": "One part."}}), "One part."),
    content_text_not_string=pipe(parts({"content": [{"type": "text", "text": 7}]}, text="Fine."), "Fine."),
    reasoning_field=pipe(parts({"content": None, "reasoning": "HIDDEN"}, text="Shown."), "Shown.",
                         not_out=("HIDDEN",)),
    reasoning_field_object=pipe(parts({"content": None, "reasoning": {"text": "x"}}, text="Shown."), "Shown."),
    finish_reason_number=pipe(Reply.text("Finished oddly.", finish_reason=5), "Finished oddly."),  # type: ignore[arg-type]
)


def _materialise(case: Case, root: Path) -> tuple[list[str], dict[str, str]]:
    home = root / case.id
    home.mkdir()
    for name, content in case.files.items():
        path = home / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if content == "<fifo>":
            os.mkfifo(path)
        elif content == "<dir>":
            path.mkdir()
        elif isinstance(content, tuple):  # a big file that takes no disk space
            with path.open("wb") as fh:
                fh.truncate(content[1])
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", errors="surrogatepass")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_OPENAI"))},
        "XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data"),
        "PYTHONPATH": os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")])),
        "PYTHONIOENCODING": "utf-8", "NO_COLOR": "1",
        **case.env,
    }
    return [str(home)], env


def _run(case: Case, root: Path) -> subprocess.CompletedProcess[str] | str:
    (home,), env = _materialise(case, root)
    server = FakeServer().start() if case.reply is not None else None
    try:
        if server is not None:
            server.script(case.reply)
        url = server.base_url if server else "http://127.0.0.1:9/v1"

        def argv(args: list[str]) -> list[str]:
            return [sys.executable, "-m", "tuichat", *(a.replace("{dir}", home).replace("{url}", url) for a in args)]

        for before in case.before:
            done = subprocess.run(argv(before), capture_output=True, text=True, timeout=TIMEOUT, env=env,
                                  stdin=subprocess.DEVNULL)
            if done.returncode != 0:
                return f"setup {before} failed: {done.stderr}"
        stdin = case.stdin.encode() if isinstance(case.stdin, str) else case.stdin
        try:
            result = subprocess.run(argv(case.args), capture_output=True, timeout=TIMEOUT, env=env,
                                    input=stdin if stdin is not None else b"")
        except subprocess.TimeoutExpired:
            return f"did not finish within {TIMEOUT} s"
        return subprocess.CompletedProcess(result.args, result.returncode,
                                           result.stdout.decode("utf-8", "replace"),
                                           result.stderr.decode("utf-8", "replace"))
    finally:
        if server is not None:
            server.stop()


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, subprocess.CompletedProcess[str] | str]:
    root = tmp_path_factory.mktemp("bad-inputs")
    with ThreadPoolExecutor(max_workers=max(2, (os.cpu_count() or 2))) as pool:
        futures = {case.id: pool.submit(_run, case, root) for case in CASES}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_handled_cleanly(case: Case, results) -> None:
    result = results[case.id]
    assert not isinstance(result, str), result  # a hang or a failed setup
    err = result.stderr
    assert "Traceback" not in err and "Traceback" not in result.stdout, err
    assert "unexpected error" not in err.lower(), err
    assert result.returncode == case.code, f"exit {result.returncode}, expected {case.code}: {err}"
    lines = err.splitlines()
    if case.lines is not None:
        assert len(lines) == case.lines, err
    elif case.code == 2:  # argparse: its usage line(s), then one "error:" line
        assert lines and "error:" in lines[-1], err
    for word in case.words:
        assert word.lower() in err.lower(), f"{word!r} not in: {err}"
    if case.code == 2 and case.lines == 1:
        assert err.startswith("tuichat: "), err
    for word in case.out:
        assert word in result.stdout, f"{word!r} not in stdout: {result.stdout!r}"
    for word in case.not_out:
        assert word not in result.stdout, f"{word!r} leaked into stdout: {result.stdout!r}"
    assert "hunter2" not in err  # a password in a URL is never repeated
    assert err.lower().count("no api key") <= 1, err  # the title is said once
