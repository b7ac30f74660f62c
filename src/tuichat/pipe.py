"""Pipe mode: `tuichat -p "question"` prints only the answer to stdout and exits.
Errors go to stderr with exit code 1. The exchange is saved as a thread, like the app."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable

from tuichat.core.errors import TuichatError, UsageError
from tuichat.core.models import Persona, Thread
from tuichat.core.text import sanitize
from tuichat.providers.base import Provider
from tuichat.session import ChatSession
from tuichat.store import Store


class StdoutSink:
    """Writes the answer as it streams. Reasoning is not the answer: it is dropped here.
    On a terminal, escape sequences in model output are made visible, as in the app."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stdout
        self.clean = sanitize if self.stream.isatty() else (lambda text: text)
        self.last = ""

    def on_text(self, text: str) -> None:
        if text:
            self.stream.write(self.clean(text))
            self.stream.flush()
            self.last = text

    def on_reasoning(self, text: str) -> None:
        pass


def read_prompt(prompt: str) -> str:
    text = sys.stdin.read() if prompt == "-" else prompt
    if not text.strip():
        raise UsageError("Empty prompt", "give the question after -p, or pipe it in with -p -")
    return text


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
) -> int:
    text = read_prompt(prompt)
    if not api_key:
        raise TuichatError("No API key", key_note or "set OPENAI_API_KEY")
    if thread is None:
        thread = store.create_thread(persona.name, model)
    else:
        persona = personas.get(thread.persona)  # the thread's own persona, if still installed
    sink = StdoutSink()
    message = asyncio.run(_send(provider_factory, store, thread, persona, text, sink))
    if sink.last and not sink.last.endswith("\n"):
        sys.stdout.write("\n")
    sys.stdout.flush()
    if message.finish_reason == "length":
        print("tuichat: the reply was cut off: the model hit its token limit", file=sys.stderr)
    return 0


async def _send(provider_factory, store, thread, persona, text, sink):
    provider = provider_factory()
    try:
        return await ChatSession(store, provider).send(thread, persona, text, sink)
    finally:
        await provider.aclose()
