"""PyInstaller hook directory for wgpilot (entry point ``pyinstaller40: hook-dirs``), so
the data files are collected by the package itself and ``wgpilot.spec`` stays small."""

from __future__ import annotations

import os


def get_hook_dirs() -> list[str]:
    return [os.path.dirname(__file__)]
