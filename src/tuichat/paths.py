"""Where tuichat keeps things. Functions, not constants, so tests can move them with
XDG_CONFIG_HOME / XDG_DATA_HOME (platformdirs honours both on Linux)."""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_config_path, user_data_path

APP = "tuichat"


def config_dir() -> Path:
    return user_config_path(APP)


def config_file() -> Path:
    return config_dir() / "config.toml"


def user_personas_dir() -> Path:
    return config_dir() / "personas"


def data_dir() -> Path:
    return user_data_path(APP)


def db_path() -> Path:
    return data_dir() / "tuichat.db"


def shipped_personas_dir() -> Path:
    """The personas/ folder shipped with tuichat: inside the wheel, or the repo's top level
    when running from a source checkout (an editable install)."""
    packaged = Path(__file__).parent / "personas"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "personas"
