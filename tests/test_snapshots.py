"""Layout snapshots of the chat screen (pytest-textual-snapshot). Nothing here talks to a
server: the threads come from the database, so the pictures do not depend on timing."""

from __future__ import annotations

from apphelpers import make_app
from tuichat.store import Store

NO_SERVER = "http://127.0.0.1:9/v1"  # shown in the status line; never contacted here

REPLY_JA = """\
## 東京の一日 🗼

朝は**築地**で朝ごはん、午後は上野の美術館へ。

- 朝: 寿司と味噌汁 🍣
- 昼: 上野公園を散歩
- 夜: ラーメン

| 時間 | 場所 |
|------|------|
| 9:00 | 築地 |
| 14:00 | 上野 |

```python
print("こんにちは、世界")
```
"""


def seeded_store(tmp_path) -> Store:
    store = Store(tmp_path / "tuichat.db")
    other = store.create_thread("diary", "test-model")
    store.add_message(other.id, "user", "Morning: ran 5k. Afternoon: read a book.")
    store.add_message(other.id, "assistant", "Dear diary, today began with a run.")
    thread = store.create_thread("ojousama", "test-model")
    store.add_message(thread.id, "user", "東京で一日過ごすならどうしますか？")
    store.add_message(thread.id, "assistant", REPLY_JA)
    stopped = store.add_message(thread.id, "user", "Then what about the evening?")
    reply = store.add_message(thread.id, "assistant", "In the evening, わたくしは", status="streaming")
    store.update_message(reply.id, status="stopped")
    del stopped
    return store


def test_chat_screen_with_japanese_thread(snap_compare, tmp_path):
    store = seeded_store(tmp_path)
    thread = store.latest_thread()
    app = make_app(tmp_path, NO_SERVER, store=store, thread=thread)
    assert snap_compare(app, terminal_size=(110, 36))


def test_new_thread_screen(snap_compare, tmp_path):
    app = make_app(tmp_path, NO_SERVER, store=seeded_store(tmp_path), persona="ojousama")
    assert snap_compare(app, terminal_size=(100, 24))


def test_persona_picker(snap_compare, tmp_path):
    app = make_app(tmp_path, NO_SERVER)
    assert snap_compare(app, press=["ctrl+n"], terminal_size=(100, 24))
