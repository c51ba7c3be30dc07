from __future__ import annotations

import json
import os
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from wgpilot.cli.remote import ApiBackend
from wgpilot.domain.errors import ValidationError


class _Recorder(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, dict[str, str], bytes]] = []
    answer: dict[str, object] = {"restored": True, "networks": 1, "peers": 2}

    def do_POST(self) -> None:
        if self.headers.get("Transfer-Encoding") == "chunked":
            body = self._chunked()
        else:
            body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append((self.command, self.path, dict(self.headers), body))
        answer = json.dumps(self.answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def _chunked(self) -> bytes:
        body = b""
        while size := int(self.rfile.readline().split(b";")[0], 16):
            body += self.rfile.read(size)
            assert self.rfile.read(2) == b"\r\n"
        while self.rfile.readline() not in (b"\r\n", b""):  # trailers, then the blank line
            pass
        return body

    def address_string(self) -> str:  # a unix socket has no client address
        return "local"

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "wgpilot.sock"
    srv = socketserver.UnixStreamServer(str(path), _Recorder)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    _Recorder.seen = []
    try:
        yield path
    finally:
        srv.shutdown()
        srv.server_close()
        _Recorder.answer = {"restored": True, "networks": 1, "peers": 2}


async def test_restore_sends_the_file_as_it_is(server: Path, tmp_path: Path) -> None:
    archive = tmp_path / "backup.tar"
    archive.write_bytes(bytes(range(256)) * 5000)
    result = await ApiBackend(server).restore(archive)
    assert result == {"restored": True, "networks": 1, "peers": 2}
    [(method, url, headers, body)] = _Recorder.seen
    assert (method, url) == ("POST", "/api/system/restore")
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Length"] == str(archive.stat().st_size) and body == archive.read_bytes()


async def test_restore_from_a_pipe_is_sent_chunked(server: Path, tmp_path: Path) -> None:
    """A FIFO (restore /dev/stdin, <(...)) has no size: its fstat says 0, which as a
    Content-Length would send an empty body. It goes chunked, every byte of it."""
    blob = os.urandom(3 << 20)
    fifo = tmp_path / "backup.fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "wb") as fh:
            fh.write(blob)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        result = await ApiBackend(server).restore(fifo)
    finally:
        writer.join(timeout=30)
    assert result["restored"] is True
    [(_, _, headers, body)] = _Recorder.seen
    assert "Content-Length" not in headers and headers["Transfer-Encoding"] == "chunked"
    assert body == blob


async def test_a_file_that_cannot_be_read_is_refused_before_sending(server: Path, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot read"):
        await ApiBackend(server).restore(tmp_path / "missing.tar")
    assert _Recorder.seen == []


class _AnswersEarly(_Recorder):
    """Refuses a body after its first bytes and closes, as the server does for an
    upload past its limit (web/connections.py: it does not read the rest)."""

    def do_POST(self) -> None:
        self.rfile.read(1024)
        answer = json.dumps(
            {"error": {"code": "INVALID_BACKUP", "message": "too big", "fields": [{"field": "file", "message": "too big"}]}}
        ).encode()
        self.send_response(422)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(answer)
        self.wfile.flush()
        self.close_connection = True


async def test_an_answer_before_the_whole_upload_is_read_is_the_error(tmp_path: Path) -> None:
    path = tmp_path / "wgpilot.sock"
    srv = socketserver.UnixStreamServer(str(path), _AnswersEarly)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    archive = tmp_path / "backup.tar"
    archive.write_bytes(b"\0" * (16 << 20))  # far more than the socket buffers hold
    try:
        with pytest.raises(ValidationError, match="too big") as err:
            await ApiBackend(path).restore(archive)
        assert [f.field for f in err.value.fields] == ["file"]
    finally:
        srv.shutdown()
        srv.server_close()


def test_restore_lists_what_the_kernel_refused(server: Path, tmp_path: Path) -> None:
    _Recorder.answer = {"restored": True, "networks": 2, "peers": 3, "kernel_errors": ["wg0: port taken"]}
    archive = tmp_path / "backup.tar"
    archive.write_bytes(b"x" * 100)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WGPILOT_")}
    r = subprocess.run(
        [sys.executable, "-m", "wgpilot", "restore", str(archive), "--yes", "--data-dir", str(server.parent)],
        capture_output=True,
        text=True,
        env={**env, "WGPILOT_RUNTIME_DIR": str(tmp_path / "run")},
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "restored: 2 networks, 3 peers; the kernel refused part of it (the next reconcile retries):",
        "  wg0: port taken",
    ]


def test_restore_from_stdin_through_a_running_server(tmp_path: Path) -> None:
    """`wgpilot backup` then `... | wgpilot restore /dev/stdin` against a real server: the
    pipe's bytes reach the server's streaming reader (chunked) and are restored."""
    from tests.unit.cli.test_cli_locate import Server, base_env

    server = Server(tmp_path)
    try:
        env = {**base_env(server.runtime), "WGPILOT_DATA_DIR": str(server.data)}

        def wgpilot(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
            return subprocess.run(
                [sys.executable, "-m", "wgpilot", *args],
                input=stdin,
                capture_output=True,
                env=env,
                timeout=120,
            )

        made = wgpilot("network", "create", "--name", "lab", "--subnet", "10.77.0.0/24")
        assert made.returncode == 0, made.stderr
        saved = wgpilot("backup", "--output", str(tmp_path / "backup.tar"))
        assert saved.returncode == 0, saved.stderr
        assert wgpilot("network", "delete", "lab", "--yes").returncode == 0
        restored = wgpilot("restore", "/dev/stdin", "--yes", stdin=(tmp_path / "backup.tar").read_bytes())
        assert restored.returncode == 0, restored.stderr
        assert b"restored: 1 networks" in restored.stdout, restored.stdout
        listed = wgpilot("network", "list", "--json")
        assert [n["name"] for n in json.loads(listed.stdout)] == ["lab"], listed.stderr
    finally:
        server.kill()
