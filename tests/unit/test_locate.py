"""Publishing where a server runs, and finding the servers that answer."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from wgpilot import config, locate


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
