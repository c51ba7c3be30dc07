"""UI preview server: the real ASGI app over a throwaway SQLite file and the fake
driver, on HTTPS with a self-signed certificate. For working on the UI without
root or namespaces (the acceptance tests use the real ``wgpilot serve``):

    .venv/bin/python -m tests.browser.devserver --port 18443 --data-dir /tmp/wgp-dev

prints the install token; ``--simulate`` makes every peer of the fake driver
handshake and move bytes every few seconds, so status dots and rates change.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import ssl
import tempfile
import time
from pathlib import Path

import uvicorn

from wgpilot import config
from wgpilot.kernel.fake import FakeDriver, FakeFirewall
from wgpilot.kernel.hostinfo import HostInfo
from wgpilot.runtime import open_database
from wgpilot.services import setup_state
from wgpilot.services.context import Context
from wgpilot.tls.certs import make_self_signed
from wgpilot.web.app import create_app
from wgpilot.web.state import WebState


async def _simulate(driver: FakeDriver) -> None:
    totals: dict[str, tuple[int, int]] = {}
    while True:
        await asyncio.sleep(3)
        for name, dev in list(driver.devs.items()):
            for key in list(dev.peers):
                rx, tx = totals.get(key, (0, 0))
                rx += random.randint(1_000, 400_000)  # fake traffic
                tx += random.randint(1_000, 2_000_000)
                totals[key] = (rx, tx)
                driver.set_stats(name, key, rx=rx, tx=tx, handshake=time.time() - 5)


async def main(port: int, data_dir: Path, token: str | None, simulate: bool) -> None:
    settings = config.load(
        None,
        env={
            "WGPILOT_DATA_DIR": str(data_dir),
            "WGPILOT_WIREGUARD_DIR": str(data_dir / "wireguard"),  # not the host's /etc/wireguard
            "WGPILOT_AUTH_BCRYPT_COST": "4",
            "WGPILOT_LISTEN": f"127.0.0.1:{port}",
        },
    )
    db, cipher = await open_database(settings)
    driver = FakeDriver()
    ctx = Context(db=db, cipher=cipher, driver=driver, firewall=FakeFirewall(), host=HostInfo())
    if not await setup_state.is_complete(ctx):
        token = await setup_state.issue_install_token(ctx, token)
        print(f"install token: {token}", flush=True)
    cert, key = make_self_signed(["localhost", "127.0.0.1"])
    (data_dir / "dev-cert.pem").write_bytes(cert)
    (data_dir / "dev-key.pem").write_bytes(key)
    app = create_app(WebState(ctx, settings))
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            ssl_certfile=str(data_dir / "dev-cert.pem"),
            ssl_keyfile=str(data_dir / "dev-key.pem"),
            ssl_version=ssl.PROTOCOL_TLS_SERVER,
            log_level="warning",
        )
    )
    sim = asyncio.create_task(_simulate(driver)) if simulate else None
    print(f"serving https://127.0.0.1:{port}/", flush=True)
    try:
        await server.serve()
    finally:
        if sim:
            sim.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sim
        await db.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=18443)
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--install-token", default=None)
    p.add_argument("--simulate", action="store_true")
    a = p.parse_args()
    d = a.data_dir or Path(tempfile.mkdtemp(prefix="wgpilot-ui-"))
    asyncio.run(main(a.port, d, a.install_token, a.simulate))
