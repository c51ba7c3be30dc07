"""Publishing where a server runs, and finding the servers that answer."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from wgpilot import config, locate
from wgpilot.cli.remote import ApiBackend
from wgpilot.domain.errors import RuntimeFailure


def settings(data_dir: Path, runtime: Path) -> config.Settings:
    return config.load(None, env={"WGPILOT_DATA_DIR": str(data_dir), "WGPILOT_RUNTIME_DIR": str(runtime)})


def listening(path: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.listen(1)
    return s


def test_a_published_server_is_found_while_it_answers(tmp_path: Path) -> None:
    data, runtime = tmp_path / "data", tmp_path / "run"
    data.mkdir()
    pointer = locate.publish(settings(data, runtime))
    assert pointer == runtime / f"{os.getpid()}.json"
    assert json.loads(pointer.read_text()) == {"pid": os.getpid(), "data_dir": str(data)}
    assert locate.published(runtime) == []  # published, but nothing answers on its socket yet
    sock = listening(locate.control_socket(data))
    try:
        assert locate.published(runtime) == [data]
    finally:
        sock.close()
    assert locate.published(runtime) == []  # a stale socket file answers nothing
    locate.withdraw(pointer)
    assert not pointer.exists()


def test_the_default_data_dir_is_not_published(tmp_path: Path) -> None:
    s = config.load(None, env={"WGPILOT_RUNTIME_DIR": str(tmp_path / "run")})
    assert s.data_dir == config.DEFAULT_DATA_DIR
    assert locate.publish(s) is None and not (tmp_path / "run").exists()


def test_pointers_of_dead_servers_are_swept_at_the_next_start(tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir()
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead = runtime / f"{int(gone.stdout)}.json"
    dead.write_text(json.dumps({"pid": int(gone.stdout), "data_dir": str(tmp_path / "old")}))
    alive = runtime / "1.json"  # pid 1 is always there
    alive.write_text(json.dumps({"pid": 1, "data_dir": str(tmp_path / "other")}))
    (tmp_path / "data").mkdir()
    pointer = locate.publish(settings(tmp_path / "data", runtime))
    assert pointer is not None and pointer.exists()
    assert not dead.exists() and alive.exists()


def test_an_unwritable_runtime_dir_is_not_fatal(tmp_path: Path) -> None:
    blocker = tmp_path / "run"
    blocker.write_text("a file where the directory should be")
    assert locate.publish(settings(tmp_path / "data", blocker)) is None


NOBODY = 65534


def published_with(tmp_path: Path, name: str, prepare: Callable[[Path, Path], None]) -> list[Path]:
    """published() over one pointer to a data directory whose socket answers, after
    ``prepare(runtime, pointer)`` has made the pointer or its directory untrustworthy."""
    data, runtime = tmp_path / name / "data", tmp_path / name / "run"
    data.mkdir(parents=True)
    runtime.mkdir()
    pointer = runtime / "4242.json"
    pointer.write_text(json.dumps({"pid": 4242, "data_dir": str(data)}))
    sock = listening(locate.control_socket(data))
    try:
        assert locate.published(runtime) == [data]  # trusted as it is
        prepare(runtime, pointer)
        return locate.published(runtime)
    finally:
        sock.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give files to another user")
def test_only_pointers_the_caller_may_trust_count(tmp_path: Path) -> None:
    def foreign_owner(runtime: Path, pointer: Path) -> None:
        os.chown(pointer, NOBODY, NOBODY)

    def writable_by_others(runtime: Path, pointer: Path) -> None:
        pointer.chmod(0o666)

    def symlink(runtime: Path, pointer: Path) -> None:
        target = runtime.parent / "elsewhere.json"
        pointer.rename(target)
        pointer.symlink_to(target)

    def open_directory(runtime: Path, pointer: Path) -> None:
        runtime.chmod(0o1777)  # like /tmp: anyone may drop a pointer here

    def foreign_directory(runtime: Path, pointer: Path) -> None:
        os.chown(runtime, NOBODY, NOBODY)

    for prepare in (foreign_owner, writable_by_others, symlink, open_directory, foreign_directory):
        assert published_with(tmp_path, prepare.__name__, prepare) == [], prepare.__name__


SERVER_AS = r"""
import os, socket, sys
path, uid = sys.argv[1], int(sys.argv[2])
os.setgid(uid)
os.setuid(uid)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(1)  # SO_PEERCRED reports the credentials of this call
print("ready", flush=True)
conn, _ = s.accept()
conn.settimeout(10)
data = b""
try:
    while chunk := conn.recv(65536):
        data += chunk
        if b"\r\n\r\n" in data:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
            break
except socket.timeout:
    pass
sys.stdout.buffer.write(data)
"""


def serve_as(uid: int, data: Path) -> subprocess.Popen[bytes]:
    """A process holding ``data``'s control socket, running as ``uid``; once it is done
    its stdout holds every byte it received."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER_AS, str(locate.control_socket(data)), str(uid)], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    return proc


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a process as another user")
async def test_nothing_is_sent_to_a_server_of_another_user() -> None:
    # Outside pytest's tmp_path, which only root may traverse.
    with tempfile.TemporaryDirectory(prefix="wgpilot-locate-") as tmp:
        await _nothing_is_sent_to_a_server_of_another_user(Path(tmp))


async def _nothing_is_sent_to_a_server_of_another_user(tmp: Path) -> None:
    tmp.chmod(0o755)
    data = tmp / "data"
    data.mkdir(mode=0o777)  # root's, but anyone may create a socket in it
    data.chmod(0o777)
    impostor = serve_as(NOBODY, data)
    with pytest.raises(RuntimeFailure, match=f"runs as uid {NOBODY}, neither root, you, nor the owner"):
        await ApiBackend(locate.control_socket(data)).request("GET", "/api/status")
    received, _ = impostor.communicate(timeout=30)
    assert received == b""  # not even the request line

    # The installed service: its own user, owning its data directory.
    locate.control_socket(data).unlink()
    os.chown(data, NOBODY, NOBODY)
    service = serve_as(NOBODY, data)
    assert await ApiBackend(locate.control_socket(data)).request("GET", "/api/status") == {}
    received, _ = service.communicate(timeout=30)
    assert received.startswith(b"GET /api/status HTTP/1.1\r\n")
