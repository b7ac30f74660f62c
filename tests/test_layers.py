"""The layering of ARCHITECTURE.md as import-linter contracts (pyproject.toml), run here
so that a wrong arrow fails the suite instead of waiting for a review."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")


def lint(package_parent: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run([str(LINT), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
                          capture_output=True, text=True, env=env, cwd=package_parent, timeout=300)


def test_the_layers_hold():
    result = lint(ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def test_a_wrong_arrow_breaks_a_contract(tmp_path):
    # The same tree with one bad import: core reaching up into the UI.
    shutil.copytree(ROOT / "src" / "tuichat", tmp_path / "tuichat")
    text = tmp_path / "tuichat" / "core" / "text.py"
    text.write_text(text.read_text(encoding="utf-8") + "\nfrom tuichat.ui import app  # noqa\n", encoding="utf-8")
    result = lint(tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and "tuichat.core.text -> tuichat.ui.app" in result.stdout
