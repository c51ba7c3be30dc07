"""One verdict on a unix socket for every probe: only a refused or missing socket is
gone; one whose process cannot take our connection now (a full backlog) is held, by
the CLI's server lookup and by the userspace driver alike."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from wgpilot import locate
from wgpilot.domain.errors import KernelError
from wgpilot.kernel import sockets, uapi


@contextmanager
def backlog_full(path: Path) -> Iterator[None]:
    """A listener at ``path`` that accepts nothing and whose backlog is full: a connect
    fails with EAGAIN, as with a busy daemon."""
    with ExitStack() as stack:
        server = stack.enter_context(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
        server.bind(str(path))
        server.listen(0)
        for _ in range(64):
            client = stack.enter_context(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
            client.setblocking(False)
            try:
                client.connect(str(path))
            except BlockingIOError:
                break
        else:
            pytest.fail("the backlog never filled")
        yield


def test_the_verdicts(tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as live:
        live.bind(str(tmp_path / "live.sock"))
        live.listen(1)
        found = sockets.probe(tmp_path / "live.sock", 1.0)
        assert found.live and found.peer == sockets.Peer(os.getpid(), os.geteuid(), os.getegid())
    # the listener is gone, its file stays: refused
    assert sockets.probe(tmp_path / "live.sock", 1.0) == sockets.Probe(live=False, peer=None)
    assert sockets.probe(tmp_path / "missing.sock", 1.0) == sockets.Probe(live=False, peer=None)
    (tmp_path / "file").write_text("")
    assert not sockets.probe(tmp_path / "file" / "x.sock", 1.0).live  # ENOTDIR: nothing can be there
    with backlog_full(tmp_path / "busy.sock"):
        assert sockets.probe(tmp_path / "busy.sock", 1.0) == sockets.Probe(live=True, peer=None)


async def test_a_busy_socket_is_held_for_every_caller(tmp_path: Path) -> None:
    busy = tmp_path / "wgpxbusy0.sock"
    with backlog_full(busy):
        assert locate.answers(busy)  # the CLI must not open the database beside a busy server
        assert await uapi.live_socket_names(tmp_path) == {"wgpxbusy0"}
        driver = uapi.UserspaceDriver(binary="wgpilot-test-no-such-daemon", socket_dir=tmp_path)
        # Held, without a link in this namespace: another namespace's daemon, refused and kept.
        with pytest.raises(KernelError, match="outside this network namespace"):
            await driver.create("wgpxbusy0")
        assert busy.is_socket()
