"""Persona files: one TOML file each, validated strictly so a typo is reported, not ignored.

Shipped personas come first and the user's own directory overrides them by name. A broken
file hides nothing else: it is set aside as a PersonaProblem (listed as a warning by
`--list-personas`), every good persona stays usable, and only asking for the broken one
fails, with its error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuichat import paths
from tuichat.core.errors import PersonaError
from tuichat.core.models import Persona
from tuichat.core.tomlfile import TomlDoc, read_toml, type_name

REQUIRED = ("name", "description", "system_prompt")
OPTIONAL = ("model", "temperature", "max_tokens", "greeting")
VALID_KEYS = REQUIRED + OPTIONAL
# No model takes more; a larger number is a typo that the server would refuse anyway.
MAX_TOKENS = 10_000_000
_TITLE = "Invalid persona"


def _string(doc: TomlDoc, key: str, value: Any, *, required: bool) -> str:
    if not isinstance(value, str):
        raise doc.fail(f"'{key}' must be a string, got {type_name(value)}", key)
    if required and not value.strip():
        raise doc.fail(f"'{key}' is empty; give it some text", key)
    return value


def _number(doc: TomlDoc, key: str, value: Any, *, integer: bool) -> float | int:
    # bool is an int subclass in Python; `temperature = true` is a mistake, not 1.
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        expected = "an integer" if integer else "a number"
        raise doc.fail(f"'{key}' must be {expected}, got {type_name(value)}", key)
    return value


def load_persona_file(path: Path) -> Persona:
    """Read and validate one persona file; problems raise PersonaError "path:line: ..."."""
    return _persona(read_toml(Path(path), PersonaError, _TITLE))


def _persona(doc: TomlDoc) -> Persona:
    data = doc.data
    for key in data:
        if key not in VALID_KEYS:
            raise doc.fail(f"unknown key '{key}'; valid keys: {', '.join(VALID_KEYS)}", key)
    for key in REQUIRED:
        if key not in data:
            raise doc.fail(f"missing required key '{key}' (needs: {', '.join(REQUIRED)})")

    fields: dict[str, Any] = {key: _string(doc, key, data[key], required=True) for key in REQUIRED}
    fields["name"] = fields["name"].strip()
    if "model" in data:
        fields["model"] = _string(doc, "model", data["model"], required=True).strip()
    if "greeting" in data:
        # An empty greeting is a way to say "no greeting".
        fields["greeting"] = _string(doc, "greeting", data["greeting"], required=False) or None
    if "temperature" in data:
        temperature = _number(doc, "temperature", data["temperature"], integer=False)
        if not 0 <= temperature <= 2:  # also refuses nan
            raise doc.fail(f"'temperature' must be between 0 and 2, got {temperature}", "temperature")
        fields["temperature"] = float(temperature)
    if "max_tokens" in data:
        max_tokens = _number(doc, "max_tokens", data["max_tokens"], integer=True)
        if not 0 < max_tokens <= MAX_TOKENS:
            raise doc.fail(
                f"'max_tokens' must be a positive integer up to {MAX_TOKENS}, got {max_tokens}", "max_tokens"
            )
        fields["max_tokens"] = int(max_tokens)
    return Persona(**fields, source=str(doc.path))


@dataclass(frozen=True)
class PersonaProblem:
    """A persona file that could not be used, and why (a one-line PersonaError)."""

    path: Path
    error: PersonaError
    name: str | None = None  # the name the file gives itself, when it could be read

    @property
    def message(self) -> str:
        return f"{self.error.title}: {self.error.detail}" if self.error.detail else self.error.title

    def matches(self, wanted: str) -> bool:
        names = {self.path.stem.casefold(), (self.name or "").casefold()}
        return wanted.casefold() in names


def load_personas(dirs: list[Path], problems: list[PersonaProblem] | None = None) -> dict[str, Persona]:
    """Every good *.toml in `dirs` by persona name; later dirs override earlier ones.

    Missing dirs are skipped (the user's dir usually does not exist). A file that cannot
    be used is appended to `problems` and skipped; if it names a persona (by its `name` or
    its file name), that persona from an earlier dir is withdrawn too, so asking for it
    reports the broken override instead of quietly using the one it was meant to replace.
    """
    problems = problems if problems is not None else []
    personas: dict[str, Persona] = {}
    for directory in dirs:
        if not directory.is_dir():
            continue
        seen: dict[str, Path] = {}
        for path in sorted(directory.glob("*.toml"), key=lambda p: p.name):
            name: str | None = None
            try:
                doc = read_toml(path, PersonaError, _TITLE)
                raw_name = doc.data.get("name")
                name = raw_name.strip() if isinstance(raw_name, str) and raw_name.strip() else None
                persona = _persona(doc)
                if persona.name in seen:
                    # Within one dir there is no "later", so which one wins would be a guess.
                    raise PersonaError(
                        "Duplicate persona",
                        f"{path}: name '{persona.name}' is also used by {seen[persona.name]}; "
                        "rename one of them",
                    )
            except PersonaError as exc:
                problems.append(PersonaProblem(path, exc, name))
                for withdrawn in {name, path.stem} - {None}:
                    personas.pop(withdrawn, None)  # type: ignore[arg-type]
                continue
            seen[persona.name] = path
            personas[persona.name] = persona
    return personas


def default_dirs() -> list[Path]:
    """Shipped personas first, then the user's, so the user's win."""
    return [paths.shipped_personas_dir(), paths.user_personas_dir()]


def _looks_like_path(value: str) -> bool:
    return value.endswith(".toml") or os.sep in value or "/" in value


def find_persona(
    personas: dict[str, Persona], name_or_path: str, problems: list[PersonaProblem] | tuple = ()
) -> Persona:
    """A persona by file path, exact name, file stem, or case-insensitive name. A name that
    only a broken file answers to raises that file's error."""
    if _looks_like_path(name_or_path):
        return load_persona_file(Path(name_or_path).expanduser())
    if name_or_path in personas:
        return personas[name_or_path]
    for problem in problems:
        if problem.matches(name_or_path):
            raise problem.error
    for persona in personas.values():
        if persona.source and Path(persona.source).stem == name_or_path:
            return persona
    wanted = name_or_path.casefold()
    for persona in personas.values():
        if persona.name.casefold() == wanted:
            return persona
    available = ", ".join(sorted(personas)) or "(none)"
    raise PersonaError(
        "Unknown persona",
        f"no persona named '{name_or_path}'. Available: {available}. "
        f"To add one, put a .toml file in {paths.user_personas_dir()}",
    )
