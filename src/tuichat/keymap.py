"""[keymap] checks that need no Textual: key names, and keys claimed twice.

Textual takes any string as a key and silently never fires a binding whose key no
terminal sends (`send = "notakey"`), and when two bindings of one widget share a key it
drops one of them (`newline = "enter"` breaks sending). Importing Textual to check a
config file would cost more than the whole start-up budget of the history commands, so
the key names Textual produces are listed here; tests/test_config.py checks this table
against Textual's own, and the default keys against the app's BINDINGS.
"""

from __future__ import annotations

import difflib
import unicodedata
from itertools import combinations

# Modifiers in the order Textual writes them (it sorts them: "ctrl+shift+up").
MODIFIERS = ("alt", "ctrl", "hyper", "meta", "shift", "super")
_MODIFIER_ALIASES = {"control": "ctrl", "ctl": "ctrl", "option": "alt", "opt": "alt", "cmd": "super",
                     "command": "super", "win": "super"}

_NAMED = {
    "escape", "enter", "return", "tab", "space", "backspace", "delete", "insert", "home", "end",
    "pageup", "pagedown", "up", "down", "left", "right", "newline",
    *(f"f{n}" for n in range(1, 36)),
    # The kitty keyboard protocol's functional keys (textual/_keyboard_protocol.py).
    "caps_lock", "scroll_lock", "num_lock", "print_screen", "pause", "menu", "kp_begin",
    "add", "subtract", "multiply", "divide", "decimal", "separator", "equal",
    "media_play", "media_pause", "media_play_pause", "media_reverse", "media_stop",
    "media_fast_forward", "media_rewind", "media_track_next", "media_track_previous",
    "media_record", "lower_volume", "raise_volume", "mute_volume",
    "left_shift", "left_control", "left_alt", "left_super", "left_hyper", "left_meta",
    "right_shift", "right_control", "right_alt", "right_super", "right_hyper", "right_meta",
    "iso_level3_shift", "iso_level5_shift",
}
_SPELLINGS = {"esc": "escape", "pgup": "pageup", "pgdn": "pagedown", "page_up": "pageup",
              "page_down": "pagedown", "del": "delete", "ins": "insert", "bs": "backspace",
              "ret": "enter", "cr": "enter", "arrowup": "up", "arrowdown": "down"}
# Textual's friendlier names for some punctuation (textual.keys.KEY_NAME_REPLACEMENTS).
_REPLACEMENTS = {"solidus": "slash", "reverse_solidus": "backslash", "commercial_at": "at",
                 "hyphen_minus": "minus", "plus_sign": "plus", "low_line": "underscore"}
# One physical key, two names: Textual tries both (textual.keys.KEY_ALIASES).
_SAME_KEY = {"ctrl+i": "tab", "ctrl+m": "enter", "return": "enter", "ctrl+space": "ctrl+at",
             "ctrl+@": "ctrl+at", "newline": "ctrl+j", "ctrl+left_square_brace": "escape"}


def _char_name(char: str) -> str:
    """Textual's key name for one typed character ("?" -> "question_mark")."""
    if char.isalnum():
        return char
    try:
        name = unicodedata.name(char).lower().replace("-", "_").replace(" ", "_")
    except ValueError:
        return char
    return _REPLACEMENTS.get(name, name)


_PUNCTUATION = {_char_name(c) for c in map(chr, range(33, 127)) if not c.isalnum()}
KNOWN = _NAMED | _PUNCTUATION

# Binding id -> its default keys, as in the app's BINDINGS (checked by tests/test_config.py).
DEFAULT_KEYS = {
    "quit": "ctrl+q",
    "stop": "escape", "reset": "ctrl+r", "new_thread": "ctrl+n", "retry": "f5", "continue_reply": "f6",
    "focus_threads": "ctrl+t", "focus_composer": "ctrl+l", "rename_thread": "f2",
    "delete_thread": "f8", "search": "ctrl+f", "copy_reply": "ctrl+o", "regenerate": "ctrl+g",
    "edit_last": "f3", "edit_last_up": "up", "pick_model": "f4", "complete": "tab",
    "help": "f1", "toggle_threads": "f9", "page_up": "pageup", "page_down": "pagedown",
    "transcript_top": "ctrl+home", "transcript_bottom": "ctrl+end", "focus_transcript": "ctrl+up",
    "previous_version": "alt+left", "next_version": "alt+right", "menu_down": "down",
    "send": "enter", "newline": "shift+enter,ctrl+j",
    "threads.delete": "delete", "threads.clear_filter": "escape", "threads.into_list": "down",
    "previous_message": "k", "next_message": "j", "copy_message": "c", "copy_code": "y",
    "search.next": "down", "search.previous": "up", "picker.cancel": "escape",
    "dialog.cancel": "escape", "help.close": "escape,f1,q",
}

_CHAT = ("quit", "stop", "reset", "new_thread", "retry", "continue_reply", "focus_threads", "focus_composer",
         "rename_thread", "delete_thread", "search", "copy_reply", "regenerate", "edit_last",
         "edit_last_up", "pick_model", "complete", "help", "toggle_threads", "page_up", "page_down",
         "transcript_top", "transcript_bottom", "focus_transcript", "previous_version", "next_version")
# Which bindings answer keys at the same time: the focused widget's, its screen's and the
# app's. One scope per place the focus can be.
SCOPES = {
    # Down moves in the slash menu, which only the message box opens (elsewhere the
    # binding lets Down through).
    "the message box": (*_CHAT, "send", "newline", "menu_down"),
    "the thread list": (*_CHAT, "threads.delete"),
    "the thread filter": (*_CHAT, "threads.clear_filter", "threads.into_list"),
    "the transcript": (*_CHAT, "previous_message", "next_message", "copy_message", "copy_code"),
    "the search screen": ("quit", "picker.cancel", "search.next", "search.previous"),
    "pickers": ("quit", "picker.cancel"),
    "dialogs": ("quit", "dialog.cancel"),
    "the help screen": ("quit", "help.close"),
}
# Sharing a key on purpose: Esc stops a reply while one streams (check_action), and
# otherwise falls through to clear the thread filter.
_SHARED_ON_PURPOSE = {frozenset({"stop", "threads.clear_filter"})}


class KeyNameError(ValueError):
    """A [keymap] problem; the message is one sentence for the user."""


def normalize_key(key: str) -> str:
    """One key as Textual names it ("Ctrl+Shift+Up" -> "ctrl+shift+up"), or KeyNameError."""
    if not key:
        raise KeyNameError('an empty key name (two commas, or a comma at the end?)')
    if len(key) == 1:
        if not key.isprintable() or key.isspace():
            raise KeyNameError(f"{key!r} is not a key name; write space, tab, enter, ...")
        return _char_name(key)
    *mods, base = key.split("+")
    if base == "" and mods and mods[-1] == "":  # "ctrl++": the plus key
        mods, base = mods[:-1], "plus"
    if base == "":
        raise KeyNameError(f"'{key}' has no key after the '+'; e.g. ctrl+e")
    modifiers: set[str] = set()
    for mod in mods:
        name = _MODIFIER_ALIASES.get(mod.lower(), mod.lower())
        if name not in MODIFIERS:
            hint = difflib.get_close_matches(name, MODIFIERS, n=1)
            guess = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise KeyNameError(
                f"'{mod}' in '{key}' is not a modifier{guess}; modifiers are {', '.join(MODIFIERS)}"
            )
        modifiers.add(name)
    if len(base) == 1:
        if not base.isprintable() or base.isspace():
            raise KeyNameError(f"{base!r} in '{key}' is not a key name; write space, tab, enter, ...")
        # Textual names punctuation after a modifier too ("alt+question_mark"), except the
        # "ctrl+@" a terminal sends for Ctrl+Space.
        name = base.lower() if base.isalnum() or base == "@" else _char_name(base)
    else:
        name = base.lower()
        name = _SPELLINGS.get(name, name)
        if name not in KNOWN:
            hint = difflib.get_close_matches(name, sorted(KNOWN), n=1)
            guess = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise KeyNameError(
                f"'{base}' is not a key name{guess}; use names like ctrl+e, f6, escape, enter, "
                "up, pageup or a single character"
            )
    return "+".join([*sorted(modifiers), name])


def normalize_keys(keys: str) -> str:
    """A [keymap] value ("F2, ctrl+n") as Textual's comma-separated key list."""
    return ",".join(normalize_key(k.strip()) for k in keys.split(","))


def _physical(key: str) -> str:
    return _SAME_KEY.get(key, key)


def clash(keymap: dict[str, str]) -> tuple[str, str, str, str] | None:
    """The first (binding id, other binding id, key, scope) where one key does two things
    at once, given the user's keymap (normalised) over the defaults; None if none."""
    effective = {**DEFAULT_KEYS, **keymap}
    for scope, ids in SCOPES.items():
        # Check the user's own bindings first, so the error points at a line they wrote.
        ordered = sorted(ids, key=lambda i: i not in keymap)
        for first, second in combinations(ordered, 2):
            if frozenset({first, second}) in _SHARED_ON_PURPOSE:
                continue
            keys_a = {_physical(k) for k in effective[first].split(",")}
            keys_b = {_physical(k) for k in effective[second].split(",")}
            if shared := sorted(keys_a & keys_b):
                return first, second, shared[0], scope
    return None
