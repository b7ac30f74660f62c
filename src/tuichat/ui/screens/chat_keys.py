"""The chat screen's key bindings. Every binding has an id, so [keymap] in config.toml
can remap it (keymap.py lists the same ids with their default keys; a test checks both)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.actions import SkipAction
from textual.binding import Binding

from tuichat.ui.screens.chat_layout import GENERATING
from tuichat.ui.widgets.thread_panel import ThreadFilter, ThreadPanel

if TYPE_CHECKING:
    from tuichat.ui.screens.chat import ChatScreen

CHAT_BINDINGS = [
    # Priority so Escape reaches us from inside the composer; action_stop does one
    # thing at a time (menu, filter, edit, then the reply) and otherwise lets it by.
    Binding("escape", "stop", "Stop", id="stop", priority=True),
    Binding("ctrl+r", "reset", "Reset", id="reset", priority=True),
    Binding("ctrl+n", "new_thread", "New", id="new_thread", priority=True),
    Binding("f5", "retry", "Retry", id="retry"),
    # F6 selects the line in a text area: this wins only when a cut reply can be continued.
    Binding("f6", "continue_reply", "Continue", id="continue_reply", priority=True),
    Binding("f1", "help", "Help", id="help"),
    Binding("ctrl+t", "focus_threads", "Threads", id="focus_threads"),
    Binding("f9", "toggle_threads", "Toggle thread list", id="toggle_threads", show=False),
    Binding("ctrl+l", "focus_composer", "Compose", id="focus_composer", show=False),
    # The transcript from anywhere in the chat (the composer's own PgUp/PgDn move
    # its cursor, rarely useful in a few lines of text).
    Binding("pageup", "page_up", "Scroll up", id="page_up", show=False, priority=True),
    Binding("pagedown", "page_down", "Scroll down", id="page_down", show=False, priority=True),
    Binding("ctrl+home", "transcript_top", "Top of the conversation", id="transcript_top", show=False),
    Binding("ctrl+end", "transcript_bottom", "End of the conversation", id="transcript_bottom", show=False),
    Binding("ctrl+up", "focus_transcript", "Read the conversation", id="focus_transcript", show=False),
    Binding("alt+left", "previous_version", "Previous version", id="previous_version", show=False),
    Binding("alt+right", "next_version", "Next version", id="next_version", show=False),
    # F-keys: TextArea and Input already use ctrl+d (delete right), F6 and F7.
    Binding("f2", "rename_thread", "Rename", id="rename_thread", show=False),
    Binding("f8", "delete_thread", "Delete", id="delete_thread", show=False),
    # Priority: an Input (the thread filter) would take ctrl+f as "delete word right".
    Binding("ctrl+f", "search", "Search", id="search", priority=True),
    # Not ctrl+y: that is redo in the composer.
    Binding("ctrl+o", "copy_reply", "Copy reply", id="copy_reply", show=False),
    Binding("ctrl+g", "regenerate", "Regenerate", id="regenerate", show=False, priority=True),
    Binding("f3", "edit_last", "Edit last", id="edit_last", show=False),
    Binding("up", "edit_last_if_empty", "Edit last", id="edit_last_up", show=False, priority=True),
    Binding("down", "menu_down", "Next command", id="menu_down", show=False, priority=True),
    Binding("f4", "pick_model", "Model", id="pick_model", show=False),
    Binding("tab", "complete", "Complete /command", id="complete", show=False, priority=True),
]


def escape_target(screen: ChatScreen) -> str | None:
    """What Esc would do now, one thing at a time: close the slash menu, clear the thread
    filter, close the thread list lying over a narrow chat, cancel an edit, and only then
    stop the reply."""
    focused = screen.focused
    if screen.slash_menu.display:
        return "menu"
    if isinstance(focused, ThreadFilter) and focused.value:
        return "filter"
    if screen.layout_part.narrow_open and screen.query_one(ThreadPanel).has_focus_within:
        return "panel"
    if screen.conv.editing is not None and focused is screen.composer:
        return "edit"
    if screen.send_lock == GENERATING:
        return "reply"
    return None


def escape(screen: ChatScreen) -> None:
    """Do what escape_target says; nothing of ours to do lets the key go on."""
    target = escape_target(screen)
    if target == "menu":
        screen.slash_menu.close()
    elif target == "panel":
        screen.close_narrow_panel()
        screen.composer.focus()
    elif target == "edit":
        screen.sender.cancel_edit()
    elif target == "reply":
        screen.sender.stop()
    else:
        raise SkipAction()  # the thread filter clears itself (its own Esc binding)
