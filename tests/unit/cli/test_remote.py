from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from wgpilot.cli.remote import ApiBackend
from wgpilot.domain.errors import ValidationError


class _Recorder(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append((self.command, self.path, dict(self.headers), body))
        answer = json.dumps({"restored": True, "networks": 1, "peers": 2}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

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


async def test_restore_sends_the_file_as_it_is(server: Path, tmp_path: Path) -> None:
    archive = tmp_path / "backup.tar"
    archive.write_bytes(bytes(range(256)) * 5000)
    result = await ApiBackend(server).restore(archive)
    assert result == {"restored": True, "networks": 1, "peers": 2}
    [(method, url, headers, body)] = _Recorder.seen
    assert (method, url) == ("POST", "/api/system/restore")
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Length"] == str(archive.stat().st_size) and body == archive.read_bytes()


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
