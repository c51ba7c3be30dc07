"""The CLI's path to a running server: HTTP over the control socket
``<data_dir>/wgpilot.sock`` (mode 0600, so reaching it proves the caller is root or
the server's user; and the server must prove to be root, the caller or the data
directory's owner before anything is sent: locate.check_server). Mutating commands
then go through the server and never race it."""

from __future__ import annotations

import asyncio
import http.client
import io
import json
import os
import socket
import stat
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from wgpilot import config as config_mod
from wgpilot import locate
from wgpilot.domain.errors import (
    ConflictError,
    FieldError,
    NotFoundError,
    RuntimeFailure,
    ValidationError,
    WgpilotError,
)
from wgpilot.domain.validate import ascii_int

TIMEOUT = 120.0


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=TIMEOUT)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(str(self._path))
            locate.check_server(sock, self._path)  # before a byte is sent
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def _error(status: int, body: dict[str, Any]) -> WgpilotError:
    err = body.get("error", {}) if isinstance(body, dict) else {}
    message = err.get("message", f"server answered {status}")
    fields = [FieldError(f["field"], f["message"]) for f in err.get("fields", [])]
    code = err.get("code")
    cls: type[WgpilotError] = {
        404: NotFoundError,
        409: ConflictError,
        422: ValidationError,
        400: ValidationError,
    }.get(status, RuntimeFailure)
    return cls(message, code=code, fields=fields)


class ApiBackend:
    """The Backend protocol of cli/backend.py, spoken to a running server."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def __aenter__(self) -> ApiBackend:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def _call(self, method: str, url: str, body: Any = None) -> tuple[int, bytes, str]:
        conn = _UnixConnection(self.path)
        try:
            if isinstance(body, io.BufferedReader):
                payload: bytes | io.BufferedReader | None = body
                headers = {"Content-Type": "application/octet-stream"}
                info = os.fstat(body.fileno())
                # Only a regular file knows its size; a pipe or FIFO (restore /dev/stdin,
                # <(...)) says 0. Without Content-Length http.client sends it chunked.
                if stat.S_ISREG(info.st_mode):
                    headers["Content-Length"] = str(info.st_size)
            else:
                payload = None if body is None else json.dumps(body).encode()
                headers = {"Content-Type": "application/json"} if payload is not None else {}
            try:
                conn.request(method, url, body=payload, headers=headers)
            except (BrokenPipeError, ConnectionResetError):
                pass  # answered before the body was in (the server then closes): read the answer
            resp = conn.getresponse()
            return resp.status, resp.read(), resp.getheader("content-type", "")
        except OSError as exc:
            raise RuntimeFailure(f"cannot talk to the running server on {self.path}: {exc}") from exc
        finally:
            conn.close()

    async def request(self, method: str, url: str, body: Any = None) -> Any:
        status, data, ctype = await asyncio.to_thread(self._call, method, url, body)
        doc: Any = json.loads(data) if data and ctype.startswith("application/json") else data
        if status >= 400:
            raise _error(status, doc if isinstance(doc, dict) else {})
        return doc

    async def _network_id(self, ref: str) -> int:
        number = ascii_int(ref, max_digits=18)
        if number is not None:
            return number
        for n in (await self.request("GET", "/api/networks?limit=1000"))["items"]:
            if ref in (n["name"], n["interface"]) or ref.lower() == n["name"].lower():
                return int(n["id"])
        raise NotFoundError(f"network {ref!r} does not exist", code="NETWORK_NOT_FOUND")

    async def _peer_id(self, net: int, ref: str) -> int:
        number = ascii_int(ref, max_digits=18)
        if number is not None:
            return number
        page = await self.request("GET", f"/api/networks/{net}/peers?limit=50&search={quote(ref)}")
        for p in page["items"]:
            if p["name"].lower() == ref.lower():
                return int(p["id"])
        raise NotFoundError(f"peer {ref!r} does not exist", code="PEER_NOT_FOUND")

    async def list_networks(self) -> list[dict[str, Any]]:
        return list((await self.request("GET", "/api/networks?limit=1000"))["items"])

    async def create_network(self, fields: dict[str, Any]) -> dict[str, Any]:
        return dict(await self.request("POST", "/api/networks", fields))

    async def delete_network(self, ref: str) -> dict[str, Any]:
        nid = await self._network_id(ref)
        net = await self.request("GET", f"/api/networks/{nid}")
        await self.request("DELETE", f"/api/networks/{nid}")
        return dict(net)

    async def set_network_enabled(self, ref: str, enabled: bool) -> dict[str, Any]:
        nid = await self._network_id(ref)
        return dict(await self.request("POST", f"/api/networks/{nid}/{'enable' if enabled else 'disable'}"))

    async def list_peers(self, network: str) -> list[dict[str, Any]]:
        nid = await self._network_id(network)
        out: list[dict[str, Any]] = []
        while True:
            page = await self.request("GET", f"/api/networks/{nid}/peers?limit=1000&offset={len(out)}")
            out.extend(page["items"])
            if len(out) >= page["total"] or not page["items"]:
                return out

    async def create_peer(self, network: str, fields: dict[str, Any]) -> dict[str, Any]:
        nid = await self._network_id(network)
        return dict(await self.request("POST", f"/api/networks/{nid}/peers", fields))

    async def delete_peer(self, network: str, peer: str) -> dict[str, Any]:
        nid = await self._network_id(network)
        pid = await self._peer_id(nid, peer)
        p = await self.request("GET", f"/api/networks/{nid}/peers/{pid}")
        await self.request("DELETE", f"/api/networks/{nid}/peers/{pid}")
        return dict(p)

    async def set_peer_enabled(self, network: str, peer: str, enabled: bool) -> dict[str, Any]:
        nid = await self._network_id(network)
        pid = await self._peer_id(nid, peer)
        return dict(
            await self.request(
                "POST", f"/api/networks/{nid}/peers/{pid}/{'enable' if enabled else 'disable'}"
            )
        )

    async def peer_config(self, network: str, peer: str) -> tuple[dict[str, Any], str]:
        nid = await self._network_id(network)
        pid = await self._peer_id(nid, peer)
        p = await self.request("GET", f"/api/networks/{nid}/peers/{pid}")
        text = await self.request("GET", f"/api/networks/{nid}/peers/{pid}/config")
        return dict(p), text.decode() if isinstance(text, bytes) else str(text)

    async def status(self) -> dict[str, Any]:
        st = dict(await self.request("GET", "/api/status"))
        info = await self.request("GET", "/api/system/info")
        st["server"] = {
            "pid": None,
            "uptime": info["uptime"],
            "version": info["version"],
            "via": str(self.path),
            "data_dir": str(self.path.parent),
        }
        return st

    async def setup_status(self) -> dict[str, Any]:
        return dict(await self.request("GET", "/api/setup/status"))

    async def setup_admin(self, username: str, password: str) -> None:
        await self.request(
            "POST", "/api/setup/admin", {"install_token": "", "username": username, "password": password}
        )

    async def setup_server(self, fields: dict[str, Any]) -> None:
        await self.request("PUT", "/api/setup/server", fields)

    async def setup_network(self, fields: dict[str, Any]) -> dict[str, Any]:
        return dict(await self.request("POST", "/api/setup/network", fields))

    async def setup_peer(self, fields: dict[str, Any]) -> tuple[dict[str, Any], str]:
        doc = await self.request("POST", "/api/setup/peer", fields)
        return dict(doc["peer"]), str(doc["config"])

    async def setup_import(
        self, interfaces: list[str], files: list[str]
    ) -> tuple[list[dict[str, Any]], list[str]]:
        doc = await self.request("POST", "/api/setup/import", {"interfaces": interfaces, "files": files})
        return [dict(n) for n in doc["networks"]], [str(w) for w in doc["warnings"]]

    async def backup(self) -> tuple[str, bytes]:
        status, data, _ = await asyncio.to_thread(self._call, "POST", "/api/system/backup")
        if status >= 400:
            raise _error(status, json.loads(data) if data else {})
        return time.strftime("wgpilot-backup-%Y%m%d-%H%M%S.tar", time.gmtime()), data

    async def restore(self, archive: Path) -> dict[str, Any]:
        try:
            fh = archive.open("rb")
        except OSError as exc:
            raise ValidationError.field("file", f"cannot read {archive}: {exc.strerror}") from exc
        with fh:  # streamed: http.client sends an open file in blocks
            return dict(await self.request("POST", "/api/system/restore", fh))


def control_socket(settings: config_mod.Settings) -> Path:
    return locate.control_socket(settings.data_dir)


def looked_at(settings: config_mod.Settings) -> str:
    """Where ``connect`` looks for a server, for the message that none was found."""
    where = f"the control socket {control_socket(settings)}"
    if "data_dir" not in settings.explicit:
        where += f" and the servers published in {settings['runtime_dir']}"
    return where


def connect(settings: config_mod.Settings) -> ApiBackend | None:
    """An API backend for the running server, or None when there is none: the one on
    the configured data directory's socket, else — when no data directory was given
    (flag, environment or config file) — the one server published in runtime_dir
    (see wgpilot/locate.py). Several published servers: the caller must choose."""
    path = control_socket(settings)
    if locate.answers(path):
        return ApiBackend(path)
    if "data_dir" in settings.explicit:
        return None
    running = locate.published(Path(settings["runtime_dir"]))
    if len(running) > 1:
        raise ValidationError.field(
            "data_dir",
            f"several wgpilot servers are running (data in {', '.join(map(str, running))}); "
            "choose one with --data-dir",
        )
    return ApiBackend(locate.control_socket(running[0])) if running else None
