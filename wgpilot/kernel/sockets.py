"""Whether a unix socket has a process behind it: one rule for every probe — the CLI
looking for its server (locate.py), the userspace driver telling a live UAPI socket
from a stale one (uapi.py).

Only "connection refused" (a socket file nobody listens on: its process died) and
"no such file" (nothing there; also a path through a non-directory) mean nobody is
there. Any other failure — permission denied, a full backlog (EAGAIN), a timeout —
means a process holds the socket that we cannot talk to right now: it is live,
never stale, and never to be deleted. Pure standard library, so the CLI can use it
without loading the kernel layer.
"""

from __future__ import annotations

import errno
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

_GONE = (errno.ECONNREFUSED, errno.ENOENT, errno.ENOTDIR)
_UCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


@dataclass(frozen=True)
class Peer:
    """The process that accepted our connection (SO_PEERCRED)."""

    pid: int
    uid: int
    gid: int


@dataclass(frozen=True)
class Probe:
    live: bool  # a process holds the socket
    peer: Peer | None  # who, when it accepted the connection (None: live but unreachable, or gone)


def nobody_there(exc: OSError) -> bool:
    """Whether a failed connect means that no process holds the socket."""
    return exc.errno in _GONE


def peer_of(sock: socket.socket) -> Peer:
    """The credentials of the process at the other end of a connected unix socket."""
    return Peer(*_UCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)))


def probe(path: Path, timeout: float) -> Probe:
    """Connect to the unix socket ``path`` and hang up at once (blocking, at most
    ``timeout`` seconds): whether a process holds it, and which one."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(str(path))
        except OSError as exc:  # TimeoutError included: slow to accept is still there
            return Probe(live=not nobody_there(exc), peer=None)
        return Probe(live=True, peer=peer_of(sock))
    finally:
        sock.close()
