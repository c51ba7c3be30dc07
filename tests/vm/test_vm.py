"""Boot the guest from the host: the harness itself, and the guest suite (kernel WireGuard
through the netlink driver) run inside it."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.vm.vm import REPO, Vm

pytestmark = [pytest.mark.vm, pytest.mark.slow]


def echo(line: str) -> None:
    sys.stdout.write(line)


def test_exit_code_output_and_isolation(vm: Vm, share: Path) -> None:
    """The command's output and exit code come back; only the shared directory is writable
    through to the host, everything else the guest writes is thrown away."""
    stray = REPO / "guest-wrote-this"
    script = (
        f"echo hello from $(uname -r); touch {stray}; echo x > {share}/out; "
        "ip link add wgprobe type wireguard && echo wireguard-ok; exit 3"
    )
    result = vm.run(script, shares=[share], timeout=600, echo=echo)
    assert result.code == 3, result.output
    assert f"hello from {vm.kernel}" in result.output and "wireguard-ok" in result.output
    assert (share / "out").read_text() == "x\n"
    assert not stray.exists()


def test_guest_has_what_the_system_suite_needs(vm: Vm) -> None:
    """Namespaces, veth, bridge, TUN, nf_tables NAT and the wg/ip/nft tools all work inside."""
    script = """set -e
ip netns add a; ip netns add b
ip link add va netns a type veth peer name vb netns b
ip -n a link add br0 type bridge; ip -n a link set va master br0
ip -n a addr add 192.0.2.1/24 dev br0; ip -n b addr add 192.0.2.2/24 dev vb
for x in "a br0" "a va" "b vb" "a lo" "b lo"; do set -- $x; ip -n $1 link set $2 up; done
ip netns exec b ping -c1 -W5 192.0.2.1
ip netns exec a nft add table inet t
ip netns exec a nft add chain inet t post '{ type nat hook postrouting priority 100; }'
ip netns exec a nft add rule inet t post oifname br0 masquerade
ip tuntap add tun9 mode tun && ip link del tun9
ip link add wg9 type wireguard && wg show wg9
unshare --mount --propagation private true
echo all-good
"""
    result = vm.run(script, timeout=600, echo=echo)
    assert result.code == 0 and "all-good" in result.output, result.output


@pytest.mark.timeout(3600)
def test_guest_suite(vm: Vm) -> None:
    """tests/vm/guest inside the VM: the netlink driver against the real module."""
    result = vm.run(
        ["python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/vm/guest"], timeout=3000, echo=echo
    )
    assert result.code == 0, result.output[-5000:]


SCENARIOS = ("tests/system/test_scenarios.py", "tests/system/test_import.py")


@pytest.mark.timeout(3600)
def test_system_scenarios_on_kernel_wireguard(vm: Vm) -> None:
    """The host's scenario suite, unchanged, inside the guest with ``--driver netlink``: the
    server's interfaces are kernel WireGuard made by the netlink driver, the clients' too
    (wg-quick picks the kernel when it has WireGuard); namespaces live inside the guest."""
    result = vm.run(
        ["python", "-m", "pytest", "-v", "-p", "no:cacheprovider", "--timeout", "900", *SCENARIOS],
        env={"WGPILOT_TEST_DRIVER": "netlink", "WGPILOT_TEST_PATIENCE": "4"},
        timeout=3000,
        echo=echo,
    )
    assert result.code == 0, result.output[-8000:]
    ran = re.findall(r"(tests/system/test_\w+\.py)::(\w+)\[(\w+)\] PASSED", result.output)
    assert {file for file, _, _ in ran} == set(SCENARIOS), result.output[-8000:]
    assert {driver for _, _, driver in ran} == {"netlink"}, result.output[-8000:]
    assert re.search(rf"\b{len(ran)} passed\b", result.output), result.output[-3000:]
    print(
        f"\n{len(ran)} scenarios passed on kernel WireGuard; guest boot {result.boot_seconds:.1f} s, "
        f"whole run {result.seconds:.0f} s"
    )
