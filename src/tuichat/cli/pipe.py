"""Pipe mode: `tuichat -p "question"` prints only the answer to stdout and exits.
Errors go to stderr with exit code 1. The exchange is saved as a thread, like the app.
`--json` writes JSON lines instead (text, reasoning, then how the reply ended)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from tuichat.core.budget import Balance, month_start
from tuichat.core.errors import TuichatError, UsageError
from tuichat.core.models import Message, Persona, Thread, Usage
from tuichat.core.prompt import build_messages
from tuichat.core.text import StreamCleaner, encodable, sanitize
from tuichat.core.tokens import estimate_usage, money, truncation_advice
from tuichat.providers.base import Provider
from tuichat.session import ChatSession
from tuichat.session.pricing import Pricing
from tuichat.store import Store
from tuichat.store.async_store import AsyncStore

if TYPE_CHECKING:
    from tuichat.config import Budget


class StdoutSink:
    """Writes the answer as it streams. Reasoning is not the answer: it is dropped here.

    The model's text is untrusted and stdout may be a terminal or feed one later
    (`| tee`, `| less -R`), so escape sequences, controls and bidi overrides are removed
    whether or not it is a terminal. `raw=True` writes the exact text (only lone
    surrogates, which UTF-8 cannot encode, become U+FFFD).
    """

    def __init__(self, stream=None, *, raw: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.cleaner = StreamCleaner(encodable if raw else _strip)
        self.last = ""

    def on_text(self, text: str) -> None:
        if text:
            self._write(self.cleaner.feed(text))
            self.last = text

    def on_reasoning(self, text: str) -> None:
        pass

    def on_storage_error(self, message: str) -> None:
        # The answer still goes to stdout; stderr says it may not be in the history.
        print(f"tuichat: {sanitize(message, line=True)}", file=sys.stderr, flush=True)

    def close(self) -> None:
        """Write what the cleaner held back (a sequence cut off by the end of the reply)."""
        self._write(self.cleaner.flush())

    def _write(self, text: str) -> None:
        if text:
            self.stream.write(text)
            self.stream.flush()


def _strip(text: str) -> str:
    return sanitize(text, strip=True)


class JsonSink:
    """`--json`: one JSON object per line, for scripts. Every character outside ASCII is
    written as a \\u escape, so no text of the model's can act on a terminal, and the
    exact text is still there for the script that decodes it."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stdout
        self.last = "\n"  # every line ends with a newline already

    def on_text(self, text: str) -> None:
        if text:
            self.emit({"type": "text", "text": text})

    def on_reasoning(self, text: str) -> None:
        if text:
            self.emit({"type": "reasoning", "text": text})

    def on_storage_error(self, message: str) -> None:
        print(f"tuichat: {sanitize(message, line=True)}", file=sys.stderr, flush=True)
        self.emit({"type": "warning", "message": message})

    def done(self, message: Message) -> None:
        usage = message.usage
        self.emit({
            "type": "done",
            "status": message.status,
            "finish_reason": message.finish_reason,
            "model": message.model,
            "thread_id": message.thread_id,
            "message_id": message.id,
            "usage": None if usage is None else {
                "prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens, "estimated": usage.estimated,
            },
            "first_token_ms": message.first_token_ms,
            "duration_ms": message.duration_ms,
            "cost": message.cost,  # US dollars; null when the model has no known price
        })

    def error(self, exc: TuichatError) -> None:
        self.emit({"type": "error", "kind": getattr(exc, "kind", "error"), "title": exc.title,
                   "detail": getattr(exc, "detail", "")})

    def close(self) -> None:
        pass

    def emit(self, obj: dict[str, object]) -> None:
        # Lone surrogates (a server's broken UTF-16) become U+FFFD: any JSON reader takes it.
        line = json.dumps(_encodable(obj), ensure_ascii=True)
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except (BrokenPipeError, ValueError):
            pass  # the reader went away


def _encodable(value: object) -> object:
    if isinstance(value, str):
        return encodable(value)
    if isinstance(value, dict):
        return {key: _encodable(item) for key, item in value.items()}
    return value


def read_prompt(prompt: str) -> str:
    # Bytes, decoded here: invalid UTF-8 on stdin (a Latin-1 file, a binary) becomes
    # U+FFFD instead of surrogate escapes that SQLite could not store.
    text = _read_stdin() if prompt == "-" else encodable(prompt)
    if not text.strip():
        raise UsageError("Empty prompt", "give the question after -p, or pipe it in with -p -")
    return text


def _read_stdin() -> str:
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:  # a replaced sys.stdin (tests) is text already
        return encodable(sys.stdin.read())
    return buffer.read().decode("utf-8", errors="replace")


def run_pipe(
    *,
    prompt: str,
    store: Store,
    personas: dict[str, Persona],
    persona: Persona,
    thread: Thread | None,
    model: str,
    provider_factory: Callable[[], Provider],
    api_key: str,
    key_note: str,
    raw: bool = False,
    json_lines: bool = False,
    max_tokens: int | None = None,
    max_cost: float | None = None,
    pricing: Pricing | None = None,
    budget: Budget | None = None,
    context_window: int | None = None,
    server: str | None = None,
) -> int:
    text = read_prompt(prompt)
    if not api_key:
        # key_note is a whole sentence that already starts "No API key".
        raise TuichatError(key_note or "No API key: set OPENAI_API_KEY")
    if budget is not None:
        dollars, tokens = store.spending_since(month_start())
        balance = Balance(budget.dollars, budget.tokens, dollars, tokens)
        if balance.over:
            raise TuichatError("This month's budget is spent",
                               f"{balance.long().replace(chr(10), '; ')}. Nothing was sent. Raise [budget] in config.toml, "
                               "or pass --over-budget to send anyway.")
    if thread is not None:
        persona = personas.get(thread.persona)  # the thread's own persona, if still installed
    if max_cost is not None:
        # Before the thread is made: a cap that cannot be kept sends (and stores) nothing.
        history = store.messages(thread.id) if thread is not None else []
        allowance = _cost_allowance(max_cost, history, persona, (thread.model if thread else "") or model,
                                    text, pricing or Pricing())
        max_tokens = min(max_tokens, allowance) if max_tokens is not None else allowance
    if thread is None:
        thread = store.create_thread(persona.name if persona else "", model, server=server)
    if max_tokens is not None:
        persona = dataclasses.replace(persona or Persona("", "", ""), max_tokens=max_tokens)
    sink: StdoutSink | JsonSink = JsonSink() if json_lines else StdoutSink(raw=raw)
    try:
        message = asyncio.run(_send(provider_factory, store, thread, persona, text, sink, pricing, context_window))
    except TuichatError as exc:
        if isinstance(sink, JsonSink):
            sink.error(exc)  # and, as always, the message on stderr and exit 1
        raise
    except Terminated as exc:
        # The reply so far is saved ("stopped" after Ctrl+C, "interrupted" after SIGTERM
        # or SIGHUP); the shell's convention for death by a signal is 128 + its number.
        return 128 + exc.signum
    finally:
        sink.close()  # the text so far, also when the reply failed or was interrupted
        _finish_line(sink)
    if message.left_out:
        print(f"tuichat: note: {message.left_out:,} earlier message(s) of the thread were not sent: they do not "
              "fit context_window", file=sys.stderr)
    if message.prompt_cut is not None and message.usage is not None:
        advice = truncation_advice(message.prompt_cut, message.usage.prompt_tokens)
        print(f"tuichat: warning: {advice}", file=sys.stderr)
    if isinstance(sink, JsonSink):
        sink.done(message)
    if message.finish_reason == "length":
        print("tuichat: the reply was cut off: the model hit its token limit", file=sys.stderr)
    return 0


def _cost_allowance(cap: float, history: list[Message], persona: Persona | None, model: str, text: str,
                    pricing: Pricing) -> int:
    """The most reply tokens that keep the run within `cap` dollars: what is left after
    the prompt (estimated, as it will be sent), at the model's output price."""
    per_input = pricing.cost(model, Usage(1_000_000, 0, 1_000_000))
    per_output = pricing.cost(model, Usage(0, 1_000_000, 1_000_000))
    if per_input is None or per_output is None or per_output.dollars <= 0:
        raise UsageError(f"No price is known for {model!r}, so --max-cost cannot be kept",
                         f'set [prices."{model}"] input = ..., output = ... (dollars per million tokens) in config.toml')
    sent = [m["content"] for m in build_messages(persona, history)] + [text]
    prompt_cost = estimate_usage(sent, "").prompt_tokens * per_input.dollars / 1e6
    allowance = int((cap - prompt_cost) / (per_output.dollars / 1e6))
    if allowance < 1:
        raise TuichatError("--max-cost is below what the prompt alone costs",
                           f"sending it costs about {money(prompt_cost)}; nothing was sent. Raise --max-cost.")
    return allowance


def _finish_line(sink: StdoutSink | JsonSink) -> None:
    try:
        if sink.last and not sink.last.endswith("\n"):
            sys.stdout.write("\n")
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        pass  # the reader went away (`| head`): nothing more to say to it


class Terminated(Exception):
    """The send was ended by SIGINT, SIGTERM or SIGHUP (`signum`)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


async def _send(provider_factory, store, thread, persona, text, sink, pricing=None, context_window=None):
    provider = provider_factory()
    db = AsyncStore(store)
    session = ChatSession(db, provider, pricing=pricing, context_window=context_window)
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def terminate(signum: int) -> None:
        if not received:  # a second Ctrl+C while the reply is being saved changes nothing
            received.append(signum)
            if signum != signal.SIGINT:
                session.interrupt()  # the cancellation below ends the reply as "interrupted"
            task.cancel()  # after Ctrl+C, as "stopped": the user ended it

    # Ctrl+C too is taken by the loop, between callbacks, like SIGTERM. Left to
    # asyncio.run, its handler cancels the task from whatever bytecode is running and then
    # raises KeyboardInterrupt: under load a Ctrl+C'd run was seen never to exit, looping
    # in a garbage collection over a corrupted object list (gdb, Python 3.11).
    handled = []
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        try:
            loop.add_signal_handler(signum, terminate, signum)
            handled.append(signum)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # no signals here (Windows) or not the main thread
    try:
        return await session.send(thread, persona, text, sink)
    except asyncio.CancelledError:
        if received:
            raise Terminated(received[0]) from None
        raise
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
        await provider.aclose()
        db.detach()
