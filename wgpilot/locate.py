"""Where the CLI finds a running server.

A server answers on its control socket ``<data_dir>/wgpilot.sock``. The CLI asks the
configured data directory's socket first (``/var/lib/wgpilot`` unless a flag, the
environment or the config file says otherwise). A server whose data directory is not
the default — ``./dev serve`` keeps its data in the checkout — also publishes a
pointer ``<runtime_dir>/<pid>.json`` (``{"pid", "data_dir"}``) while it runs, so a
CLI without ``--data-dir`` finds it: the pointer is written at start and removed at
stop. A pointer only counts while its server answers on its socket, so one left by
a killed server misleads nobody; the next server to start sweeps those whose process
is gone. ``runtime_dir`` is ``/run/wgpilot``: root's, emptied at boot.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

from wgpilot import config as config_mod
from wgpilot.kernel import sockets

log = logging.getLogger(__name__)

SOCKET_NAME = "wgpilot.sock"
_PROBE_TIMEOUT = 2.0


def control_socket(data_dir: Path) -> Path:
    return data_dir / SOCKET_NAME


def answers(path: Path) -> bool:
    """True when a process holds the unix socket ``path`` (kernel/sockets.py's rule: one
    we may not reach, or whose backlog is full, is still there — never bypassed by
    opening the database beside it)."""
    return sockets.probe(path, _PROBE_TIMEOUT).live


def publish(settings: config_mod.Settings) -> Path | None:
    """Say where this server runs, when the CLI would not look there by itself.
    Returns the pointer to withdraw at stop, or None (default data dir, or the runtime
    directory is not writable: then the CLI needs --data-dir, as before)."""
    if settings.data_dir == config_mod.DEFAULT_DATA_DIR:
        return None
    runtime = Path(settings["runtime_dir"])
    pointer = runtime / f"{os.getpid()}.json"
    try:
        runtime.mkdir(parents=True, exist_ok=True)
        _sweep(runtime)
        tmp = pointer.with_suffix(".tmp")
        tmp.write_text(json.dumps({"pid": os.getpid(), "data_dir": str(settings.data_dir)}))
        tmp.replace(pointer)
    except OSError as exc:
        log.info(
            "not published for the CLI: it needs --data-dir to find this server",
            extra={"runtime_dir": str(runtime), "error": exc.strerror or str(exc)},
        )
        return None
    return pointer


def withdraw(pointer: Path | None) -> None:
    if pointer is not None:
        with contextlib.suppress(OSError):
            pointer.unlink()


def _sweep(runtime: Path) -> None:
    """Remove pointers of servers whose process is gone (killed, crashed)."""
    for path in runtime.glob("*.json"):
        try:
            os.kill(int(path.stem), 0)
        except ValueError:
            continue  # not a pointer of ours
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                path.unlink()
        except PermissionError:
            continue  # alive, another user's


def published(runtime: Path) -> list[Path]:
    """Data directories of the published servers that answer now, sorted."""
    found: set[Path] = set()
    try:
        pointers = sorted(runtime.glob("*.json"))
    except OSError:
        return []
    for path in pointers:
        try:
            data_dir = Path(json.loads(path.read_text())["data_dir"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if answers(control_socket(data_dir)):
            found.add(data_dir)
    return sorted(found)
