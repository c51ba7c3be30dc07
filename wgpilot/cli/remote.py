"""The CLI's path to a running server (filled in with the HTTP API)."""

from __future__ import annotations

from typing import Any

from wgpilot import config as config_mod


def connect(settings: config_mod.Settings) -> Any:
    """An API backend when a server is listening on this data directory, else None."""
    return None
