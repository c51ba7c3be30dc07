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

Whom the CLI trusts (it sends passwords and backups, which hold the master key): a
pointer only in a directory, and as a file, owned by the caller or root and writable
by nobody else (no symlink); and before a request is sent, the process that accepted
the connection (SO_PEERCRED) must run as root, as the caller, or as the owner of the
directory holding the socket — the installed service runs as its own user and owns
its data directory.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import stat
from pathlib import Path

from wgpilot import config as config_mod
from wgpilot.domain.errors import RuntimeFailure
from wgpilot.kernel import sockets

log = logging.getLogger(__name__)

SOCKET_NAME = "wgpilot.sock"
_PROBE_TIMEOUT = 2.0
_POINTER_MAX = 64 * 1024


def control_socket(data_dir: Path) -> Path:
    return data_dir / SOCKET_NAME


def answers(path: Path) -> bool:
    """True when a process holds the unix socket ``path`` (kernel/sockets.py's rule: one
    we may not reach, or whose backlog is full, is still there — never bypassed by
    opening the database beside it)."""
    return sockets.probe(path, _PROBE_TIMEOUT).live


def _untrusted(st: os.stat_result) -> str | None:
    """Why a pointer or its directory cannot be trusted, or None: it must be owned by
    the caller or root and writable by nobody else."""
    if st.st_uid not in (0, os.geteuid()):
        return f"owned by uid {st.st_uid}, neither root nor you"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "writable by others"
    return None


def check_server(sock: socket.socket, path: Path) -> None:
    """Before anything is sent on ``sock``, connected to the control socket ``path``:
    its process must run as root, as the caller, or as the owner of the socket's
    directory; else a refusal naming who it is."""
    peer = sockets.peer_of(sock)
    try:
        owner: int | None = os.stat(path.parent).st_uid
    except OSError:
        owner = None
    if peer.uid not in (0, os.geteuid(), owner):
        raise RuntimeFailure(
            f"refusing to talk to {path}: the process holding it (pid {peer.pid}) runs as uid "
            f"{peer.uid}, neither root, you, nor the owner of {path.parent}"
        )


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


def _pointed_at(path: Path) -> Path | None:
    """The data directory a trusted pointer file names, or None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None  # gone meanwhile, a symlink, not ours to read
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        why = "not a regular file" if not stat.S_ISREG(st.st_mode) else _untrusted(st)
        if why is not None:
            log.warning("ignoring the server pointer %s: %s", path, why)
            return None
        raw = fh.read(_POINTER_MAX)
    try:
        return Path(json.loads(raw)["data_dir"])
    except (ValueError, KeyError, TypeError):
        return None


def published(runtime: Path) -> list[Path]:
    """Data directories of the published servers that answer now, sorted; only
    pointers the caller may trust count (see the module docstring)."""
    try:
        why = _untrusted(os.stat(runtime))
        if why is not None:
            log.warning("ignoring the servers published in %s: it is %s", runtime, why)
            return []
        pointers = sorted(runtime.glob("*.json"))
    except OSError:
        return []
    found: set[Path] = set()
    for path in pointers:
        data_dir = _pointed_at(path)
        if data_dir is not None and answers(control_socket(data_dir)):
            found.add(data_dir)
    return sorted(found)
