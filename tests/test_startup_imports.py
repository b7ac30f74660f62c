"""What start-up loads, and what waits until it is needed: the SDK (until typing starts),
Markdown and syntax highlighting (until a message is drawn or the warm-up runs), the
dialogs and pickers (until opened). Each costs start-up time for a screen that does not
use it; bench/startup.py measures the time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

LAZY = ("openai", "httpx2", "markdown_it", "pygments", "rich.markdown", "rich.syntax", "genai_prices",
        "tuichat.ui.markdown_doc", "tuichat.ui.screens.dialogs", "tuichat.ui.screens.model_picker",
        "tuichat.ui.screens.persona_picker", "tuichat.ui.screens.code_picker",
        "tuichat.cli.web", "textual_serve", "aiohttp")


def loaded_after(code: str) -> list[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout)


def test_the_app_imports_nothing_it_loads_later():
    modules = set(loaded_after("import tuichat.cli.main, tuichat.ui.app"))
    assert "tuichat.ui.screens.chat" in modules  # the probe did import the app
    early = [m for m in modules if any(m == lazy or m.startswith(lazy + ".") for lazy in LAZY)]
    assert early == []


def test_the_markdown_module_and_the_code_blocks_load_them_when_used():
    modules = set(loaded_after(
        "from tuichat.ui.code_blocks import code_blocks\n"
        "assert code_blocks('```py\\nx = 1\\n```')[0].code == 'x = 1'"
    ))
    assert {"markdown_it", "tuichat.ui.markdown_doc"} <= modules
