"""Shared bits for the TLS tests: settings in a temp dir, a real TLS server on loopback
and a client that returns the certificate chain it was shown."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from cryptography import x509

from wgpilot import config


def settings(tmp_path: Path, **values: Any) -> config.Settings:
    """Defaults, a data dir under ``tmp_path``, port 80 off; ``tls__mode="acme"`` style overrides."""
    merged = {o.key: o.default for o in config.OPTIONS}
    merged.update({"data_dir": str(tmp_path / "data"), "tls.http_port": 0})
    merged.update({k.replace("__", "."): v for k, v in values.items()})
    return config.Settings(merged, None)


class DictStore:
    def __init__(self, **values: str) -> None:
        self.values = values

    async def get(self, key: str) -> str | None:
        return self.values.get(key)


@contextlib.asynccontextmanager
async def tls_server(context: ssl.SSLContext) -> AsyncIterator[int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def handshake(port: int, cafile: str | None = None, server_name: str = "localhost") -> x509.Certificate:
    """Connect, complete the handshake, return the leaf the server presented."""
    import socket

    ctx = ssl.create_default_context(cafile=cafile) if cafile else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if not cafile:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        assert tls.selected_alpn_protocol() == "http/1.1"
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    assert der is not None
    return x509.load_der_x509_certificate(der)


async def peer_cert(port: int, **kw: Any) -> x509.Certificate:
    return await asyncio.to_thread(handshake, port, **kw)
