"""Folders named in rules.yaml: relative to the file's folder; env overrides to the working dir."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

STATE_ENV = "ALERTBOT_STATE_DIR"
PLUGINS_ENV = "ALERTBOT_PLUGINS_DIR"
DEFAULT_STATE_DIR = ".alertbot"


def config_dir(
    config_file: str | os.PathLike[str], value: str, env_value: str | None = None
) -> str:
    """The one rule for both folders, as an absolute path (resolving it again changes nothing).

    A non-empty env value wins, relative to the working directory as with any env var; else a
    relative `value` is below the config file's folder, so every command finds the same folder
    whatever directory it runs from.
    """
    if env_value:
        return os.path.abspath(env_value)
    path = Path(value)
    return os.path.abspath(path if path.is_absolute() else Path(config_file).parent / path)


def state_dir_of(config_file: str | os.PathLike[str], env: Mapping[str, str]) -> str:
    """The state folder of a config file even when the file has errors (silence, outbox)."""
    raw: Any = None
    with contextlib.suppress(OSError, yaml.YAMLError):
        raw = yaml.safe_load(Path(config_file).read_text(encoding="utf-8"))
    value = raw.get("state_dir") if isinstance(raw, dict) else None
    written = value if isinstance(value, str) and value else DEFAULT_STATE_DIR
    return config_dir(config_file, written, env.get(STATE_ENV))
