"""The command line, through a real subprocess: pipe mode, personas, usage errors."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from fake_openai import Reply

SECRET = "sk-openai-only-SECRET-0123456789"


def tuichat(*args: str, stdin: str | None = None, env: dict[str, str] | None = None, timeout: float = 30):
    return subprocess.run(
        [sys.executable, "-m", "tuichat", *args],
        input=stdin, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "pipe.db")


def rows(db: str, sql: str):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_pipe_mode_prints_only_the_answer_and_saves_the_thread(fake_server, db):
    fake_server.script(Reply(chunks=["The ", "answer ", "is 42."], reasoning=["secret thoughts"]))
    result = tuichat("-p", "What is it?", "--base-url", fake_server.base_url, "--model", "m1", "--db", db)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "The answer is 42.\n"
    assert "Traceback" not in result.stderr
    assert rows(db, "select role, content, status from messages order by id") == [
        ("user", "What is it?", "done"),
        ("assistant", "The answer is 42.", "done"),
    ]
    assert rows(db, "select persona, model, title from threads") == [("default", "m1", "What is it?")]


def test_pipe_mode_reads_stdin_and_uses_the_persona(fake_server, db):
    fake_server.script(Reply.text("ごきげんよう。"))
    result = tuichat("-p", "-", "--persona", "ojousama", "--base-url", fake_server.base_url, "--db", db,
                     stdin="朝は散歩をしました\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ごきげんよう。\n"
    sent = fake_server.chat_requests[-1].json["messages"]
    assert "わたくし" in sent[0]["content"]
    assert sent[1] == {"role": "user", "content": "朝は散歩をしました\n"}


def test_continue_sends_the_whole_history(fake_server, db):
    fake_server.script(Reply.text("first"), Reply.text("second"))
    assert tuichat("-p", "one", "--base-url", fake_server.base_url, "--db", db).returncode == 0
    result = tuichat("-p", "two", "--continue", "--base-url", fake_server.base_url, "--db", db)
    assert result.returncode == 0, result.stderr
    contents = [m["content"] for m in fake_server.chat_requests[-1].json["messages"]]
    assert contents[1:] == ["one", "first", "two"]
    assert rows(db, "select count(*) from threads") == [(1,)]


def test_pipe_mode_error_goes_to_stderr_with_exit_1_and_keeps_partial_text(fake_server, db):
    fake_server.script(Reply(chunks=["partial ", "reply", "lost"], disconnect_after=2))
    result = tuichat("-p", "q", "--base-url", fake_server.base_url, "--db", db)
    assert result.returncode == 1
    assert result.stdout.startswith("partial reply")
    assert "tuichat:" in result.stderr and "Traceback" not in result.stderr
    assert rows(db, "select content, status from messages where role='assistant'") == [("partial reply", "error")]


def test_http_error_message_is_plain_and_exit_1(fake_server, db):
    fake_server.script(Reply.error(404, "The model `nope` does not exist"))
    result = tuichat("-p", "q", "--base-url", fake_server.base_url, "--model", "nope", "--db", db)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "model" in result.stderr.lower() and "Traceback" not in result.stderr


def test_openai_key_is_not_sent_to_a_base_url_given_on_the_command_line(fake_server, db):
    fake_server.script(Reply.text("ok"))
    result = tuichat("-p", "q", "--base-url", fake_server.base_url, "--db", db, env={"OPENAI_API_KEY": SECRET})
    assert result.returncode == 0, result.stderr
    assert SECRET not in fake_server.chat_requests[-1].headers.get("authorization", "")


def test_openai_base_url_from_the_environment_gets_the_key_set_beside_it(fake_server, db):
    fake_server.script(Reply.text("ok"))
    result = tuichat("-p", "q", "--db", db, env={"OPENAI_API_KEY": SECRET, "OPENAI_BASE_URL": fake_server.base_url})
    assert result.returncode == 0, result.stderr
    assert fake_server.chat_requests[-1].headers["authorization"] == f"Bearer {SECRET}"
    assert SECRET not in "".join(str(r) for r in rows(db, "select * from messages"))


def test_api_key_env_names_the_variable(fake_server, db, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'base_url = "{fake_server.base_url}"\napi_key_env = "MY_KEY"\nmodel = "cfg-model"\n')
    fake_server.script(Reply.text("ok"))
    result = tuichat("-p", "q", "--config", str(config), "--db", db, env={"MY_KEY": "sk-mine-0123456789"})
    assert result.returncode == 0, result.stderr
    request = fake_server.chat_requests[-1]
    assert request.headers["authorization"] == "Bearer sk-mine-0123456789"
    assert request.json["model"] == "cfg-model"


def test_list_personas(db):
    result = tuichat("--list-personas")
    assert result.returncode == 0
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert {"default", "ojousama", "diary", "translator"} <= set(names)
    assert any(line.startswith("ojousama") and len(line.split(None, 1)) == 2 for line in result.stdout.splitlines())


def test_unknown_persona_exits_2_and_lists_the_available_ones(db):
    result = tuichat("--persona", "nobody", "-p", "q", "--db", db)
    assert result.returncode == 2
    assert "nobody" in result.stderr and "ojousama" in result.stderr and "Traceback" not in result.stderr


def test_invalid_user_persona_file_names_file_and_line(tmp_path):
    personas = tmp_path / "config" / "tuichat" / "personas"
    personas.mkdir(parents=True)
    (personas / "bad.toml").write_text('name = "bad"\ndescription = "x"\nsystem_prompt = "y"\ntemperature = "hot"\n')
    result = tuichat("--list-personas")  # a broken file is a warning here (issue 8, req. 10)
    assert result.returncode == 0 and "ojousama" in result.stdout
    assert f"{personas / 'bad.toml'}:4" in result.stderr and "temperature" in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    chosen = tuichat("--persona", "bad", "-p", "q")  # choosing it is the error
    assert chosen.returncode == 2 and f"{personas / 'bad.toml'}:4" in chosen.stderr


def test_bad_config_toml_names_file_and_line(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('model = "x"\nthis is not toml\n')
    result = tuichat("--config", str(config), "--list-personas")
    assert result.returncode == 2
    assert f"{config}:2" in result.stderr and "Traceback" not in result.stderr


def test_bad_arguments_exit_2():
    assert tuichat("--no-such-flag").returncode == 2
    result = tuichat("--persona", "ojousama", "--continue", "-p", "q")
    assert result.returncode == 2 and "--continue" in result.stderr


def test_the_app_refuses_to_start_without_a_terminal(db):
    result = tuichat("--db", db, stdin="")
    assert result.returncode == 2
    assert "terminal" in result.stderr and "-p" in result.stderr


def test_empty_prompt_is_a_usage_error(db):
    result = tuichat("-p", "-", "--db", db, stdin="  \n")
    assert result.returncode == 2 and "Empty prompt" in result.stderr


def test_persona_given_as_a_file_path(fake_server, db, tmp_path):
    path = tmp_path / "pirate.toml"
    path.write_text('name = "pirate"\ndescription = "Arr"\nsystem_prompt = "Talk like a pirate."\nmodel = "pirate-model"\n')
    fake_server.script(Reply.text("Arr"))
    result = tuichat("-p", "hi", "--persona", str(path), "--base-url", fake_server.base_url, "--db", db)
    assert result.returncode == 0, result.stderr
    body = fake_server.chat_requests[-1].json
    assert body["model"] == "pirate-model" and body["messages"][0]["content"] == "Talk like a pirate."
