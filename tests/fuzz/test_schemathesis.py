"""Property-based fuzzing of every operation in /api/openapi.json against a real
server (uvicorn + TLS + SQLite, fake kernel), authenticated: no 5xx, and every
response conforms to the schema the server publishes. Bounded for CI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks as st_checks

REPO = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = int(os.environ.get("WGPILOT_FUZZ_EXAMPLES", "25"))


class Server:
    def __init__(self, tmp: Path) -> None:
        with open(tmp / "server.log", "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.fuzz.fuzzserver", str(tmp)],
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("READY"), (tmp / "server.log").read_text()
        _, port, token = line.split()
        self.base = f"https://127.0.0.1:{port}"
        self.token = token
        self.log = tmp / "server.log"
        self.ca = str(tmp / "certs" / "selfsigned.pem")  # the server's self-signed certificate
        self.tmp = tmp

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


_SERVER: Server | None = None


def server() -> Server:
    global _SERVER
    if _SERVER is None:
        import tempfile

        _SERVER = Server(Path(tempfile.mkdtemp(prefix="wgpilot-fuzz-")))
    return _SERVER


@pytest.fixture(scope="module", autouse=True)
def _server_lifetime() -> Iterator[None]:
    yield
    if _SESSION is not None:
        _SESSION.close()
    if _SERVER is not None:
        _SERVER.stop()
        text = _SERVER.log.read_text()
        shutil.rmtree(_SERVER.tmp, ignore_errors=True)
        assert "unhandled error" not in text, "the server logged an unhandled error during fuzzing"


_SESSION: requests.Session | None = None


def session() -> requests.Session:
    """One keep-alive session for the whole run (a TLS handshake per case would dominate)."""
    global _SESSION
    if _SESSION is not None:
        return _SESSION
    s = _SESSION = requests.Session()
    s.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override verify
    s.verify = server().ca
    s.headers["Origin"] = server().base
    s.cookies.set("__Host-wgpilot_session", server().token, domain="127.0.0.1", secure=True, path="/")
    return s


def _document() -> dict[str, object]:
    # The very document the server serves at /api/openapi.json (test_openapi_served
    # proves the two are equal), built without starting anything at import time.
    from wgpilot.web.openapi import document
    from wgpilot.web.routes import OPERATIONS

    return document(OPERATIONS)


schema = schemathesis.openapi.from_dict(_document())


def test_openapi_served_equals_the_fuzzed_document() -> None:
    served = requests.get(f"{server().base}/api/openapi.json", verify=server().ca).json()
    assert served == _document()


def relogin(s: requests.Session) -> None:
    """Logout and password change are fuzzed too: get a session back when they ended ours."""
    if s.get(f"{server().base}/api/auth/me").status_code == 401:
        r = s.post(
            f"{server().base}/api/auth/login", json={"username": "admin", "password": "fuzzing password 1"}
        )
        if r.status_code == 200:
            server().token = r.cookies.get("__Host-wgpilot_session") or server().token
            s.cookies.set("__Host-wgpilot_session", server().token, domain="127.0.0.1", secure=True, path="/")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_every_operation(case: schemathesis.Case) -> None:
    s = session()
    relogin(s)
    case.call_and_validate(
        base_url=server().base,
        session=s,
        verify=server().ca,
        checks=[
            st_checks.not_a_server_error,
            st_checks.response_schema_conformance,
            st_checks.status_code_conformance,
            st_checks.content_type_conformance,
        ],
        headers={"Origin": server().base},
    )
    time.sleep(0)
