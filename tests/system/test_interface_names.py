"""Interface names held outside wgpilot's network namespace. ``/var/run/wireguard`` is one
directory for every namespace on a machine, so a wireguard-go ``wg0`` running in another
namespace holds the name ``wg0`` here too (its UAPI socket would be ours). A network
created without a name skips it; one that asks for it gets a 409 naming ``interface``.

The two lab hosts share one socket directory, as two namespaces of a real machine share
/var/run/wireguard; the lab's directory is its own, so other test runs never see it."""

from __future__ import annotations

import json

import pytest

from tests.system.conftest import SERVER_LAN, Site
from tests.system.netns import PYTHON, Lab, interfaces, wait_for

pytestmark = pytest.mark.system

HELD = "wg0"  # the name wgpilot picks first

API_OVER_CONTROL_SOCKET = r"""
import http.client, json, socket, sys
class Unix(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(sys.argv[1])
c = Unix("localhost", timeout=60)
c.request("POST", "/api/networks", body=sys.argv[2], headers={"Content-Type": "application/json"})
r = c.getresponse()
print(json.dumps({"status": r.status, "body": json.loads(r.read())}))
"""


def test_a_name_a_daemon_holds_in_another_namespace_is_skipped_or_refused(site: Site, lab: Lab) -> None:
    elsewhere = lab.host("elsewhere")
    elsewhere.wgdir = site.server.wgdir  # one /var/run/wireguard for both namespaces
    daemon = elsewhere.popen("wireguard-go", "-f", HELD, log=elsewhere.root / "wireguard-go.log")
    sock = site.server.wgdir / f"{HELD}.sock"
    wait_for(
        lambda: sock.exists() and HELD in interfaces(elsewhere),
        10,
        what="wireguard-go in the other namespace",
    )
    assert HELD not in interfaces(site.server)
    wg = site.wgpilot

    # No name given: wgpilot takes the next free one and leaves the other daemon alone.
    net = wg.json("network", "create", "--name", "auto", "--subnet", "10.61.0.0/24", "--port", "51861")
    assert net["interface"] == "wg1", net  # type: ignore[index]
    assert "wg1" in interfaces(site.server) and HELD not in interfaces(site.server)
    assert daemon.poll() is None and sock.exists()
    assert elsewhere.run("wg", "show", HELD).returncode == 0

    # The name asked for explicitly, through the running server's API: 409 on `interface`.
    wg.env["WGPILOT_LISTEN"] = f"{SERVER_LAN}:8443"
    wg.env["WGPILOT_TLS_HTTP_PORT"] = "0"
    wg.start()
    try:
        body = json.dumps(
            {"name": "asked", "subnet": "10.62.0.0/24", "listen_port": 51862, "interface": HELD}
        )
        out = site.server.run(PYTHON, "-c", API_OVER_CONTROL_SOCKET, str(wg.data_dir / "wgpilot.sock"), body)
        answer = json.loads(out.stdout)
        assert answer["status"] == 409, answer
        err = answer["body"]["error"]
        assert err["code"] == "INTERFACE_IN_USE" and [f["field"] for f in err["fields"]] == ["interface"], err
        message = err["fields"][0]["message"]
        assert "outside this network namespace" in message and "not managed by wgpilot" in message, message
        assert [n["name"] for n in wg.json("network", "list")] == ["auto"]  # type: ignore[union-attr]
    finally:
        stopped = wg.stop()  # checked below: an assert here would replace the failure above
    assert stopped == 0, wg.log.read_text()[-3000:]
    assert daemon.poll() is None and elsewhere.run("wg", "show", HELD).returncode == 0
