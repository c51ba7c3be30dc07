"""How the CLI reports: one clear line per error with exit code 2 for bad input
(validation, not found, conflict, bad config) and 1 for runtime failures; tables
for people, ``--json`` for scripts. Never a traceback (unless WGPILOT_DEBUG=1)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn, TypeVar

import click

from wgpilot.config import ConfigError
from wgpilot.domain.errors import (
    ConflictError,
    NotFoundError,
    RuntimeFailure,
    ValidationError,
    WgpilotError,
)

T = TypeVar("T")
EXIT_RUNTIME = 1
EXIT_INPUT = 2
log = logging.getLogger("wgpilot.cli")


def fail(message: str, code: int = EXIT_INPUT) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def exit_code(exc: BaseException) -> int:
    if isinstance(exc, ValidationError | NotFoundError | ConflictError | ConfigError):
        return EXIT_INPUT
    if isinstance(exc, RuntimeFailure):
        return EXIT_RUNTIME
    if isinstance(exc, WgpilotError):
        return EXIT_INPUT
    return EXIT_RUNTIME


def run(fn: Callable[[], Awaitable[T]]) -> T:
    """Run an async CLI body, mapping every error to one line and an exit code."""
    try:
        return asyncio.run(fn())  # type: ignore[arg-type]
    except (WgpilotError, ConfigError) as exc:
        fail(exc.message if isinstance(exc, WgpilotError) else str(exc), exit_code(exc))
    except PermissionError as exc:
        fail(f"permission denied: {exc.filename or exc} (run as root or as the wgpilot user)", EXIT_RUNTIME)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except Exception as exc:
        if os.environ.get("WGPILOT_DEBUG"):
            raise
        log.debug("unexpected error", exc_info=True)
        fail(f"internal error: {type(exc).__name__}: {exc} (set WGPILOT_DEBUG=1 for details)", EXIT_RUNTIME)


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False, default=str))


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        line = "  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip()
        click.echo(click.style(line, bold=True) if n == 0 and sys.stdout.isatty() else line)


def human_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"
