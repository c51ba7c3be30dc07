"""A real systemd guest: a Debian bookworm root made with ``debootstrap`` (cached by
its inputs in the user's cache directory, ``initramfs.CACHE``), booted on the host's kernel in QEMU (TCG) with systemd as PID 1 and
QEMU user networking, so the host's loopback is 10.0.2.2 inside.

    python -m tests.vm.systemd build     # (re)build the cached root and say where
    python -m tests.vm.systemd run SCRIPT [--timeout S]   # boot, run a bash script, power off

The root is shared read-only over 9p (tag "sysroot") under a tmpfs overlay: every boot
starts from the pristine tree and nothing persists. The initramfs (``initramfs.py``,
``wgpilot.boot=systemd``) loads WireGuard, binds the host's /lib/modules/<kernel> in and
switches to systemd. The unit ``wgpilot-vmtest.service`` runs ``/vmrun/cmd.sh`` (the run
directory, writable) once the network is up, as root, with its output on the serial
console between the same start/exit markers ``vm.Vm`` reads, then powers off.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.vm.vm import CACHE, QEMU, START, Result, Vm, VmError, build_initramfs

__all__ = ["PACKAGES", "SUITE", "SystemdVm", "build_rootfs"]

SUITE = "bookworm"
MIRROR = os.environ.get("WGPILOT_VM_MIRROR", "http://deb.debian.org/debian")
# What install.sh and the hardened unit meet on a small Debian server; jq for the script.
PACKAGES = (
    "systemd",
    "systemd-sysv",
    "udev",
    "dbus",
    "kmod",
    "iproute2",
    "nftables",
    "libnftables1",
    "wireguard-tools",
    "curl",
    "ca-certificates",
    "openssl",
    "procps",
    "jq",
    "iputils-ping",
)

NETWORK = """[Match]
Name=en* eth*

[Network]
DHCP=ipv4
"""

RUNNER = f"""#!/bin/sh
# Runs the host's script on the serial console (tests/vm/systemd.py), then powers off;
# the markers are the ones vm.Vm reads.
echo "{START}" > /dev/ttyS0
/bin/bash /vmrun/cmd.sh < /dev/null > /dev/ttyS0 2>&1
rc=$?
echo "$rc" > /vmrun/rc
sync
printf '\\n@@wgpilot-vm exit %s@@\\n' "$rc" > /dev/ttyS0
systemctl poweroff --no-block
"""

UNIT = """[Unit]
Description=wgpilot VM test command (/vmrun/cmd.sh)
Wants=network-online.target
After=network-online.target systemd-user-sessions.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/wgpilot-vmtest
StandardOutput=journal
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
"""

# Consoles stay quiet (the command's output is streamed there); only one wired link.
MASK = ("serial-getty@ttyS0.service", "getty@tty1.service")
ONLINE_DROPIN = """[Service]
ExecStart=
ExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=120
"""


def _key() -> str:
    h = hashlib.sha256()
    for part in (SUITE, MIRROR, *PACKAGES, NETWORK, RUNNER, UNIT, *MASK, ONLINE_DROPIN):
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:12]


def _write(root: Path, path: str, text: str, mode: int = 0o644) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    target.chmod(mode)


def build_rootfs(*, force: bool = False, echo: Callable[[str], None] | None = None) -> Path:
    """debootstrap the root once (about a minute, ~300 MB) and configure it; cached by content."""
    target = CACHE / f"rootfs-{SUITE}-{_key()}"
    if (target / ".complete").exists() and not force:
        return target
    if shutil.which("debootstrap") is None:
        raise VmError("debootstrap is missing (apt-get install debootstrap)")
    if os.geteuid() != 0:
        raise VmError("debootstrap needs root")
    CACHE.mkdir(parents=True, exist_ok=True)
    for old in CACHE.glob(f"rootfs-{SUITE}-*"):
        shutil.rmtree(old, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"rootfs-{SUITE}-", suffix=".tmp", dir=CACHE))
    try:
        cmd = [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(PACKAGES)}",
            SUITE,
            str(tmp),
            MIRROR,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            log = (
                (tmp / "debootstrap" / "debootstrap.log").read_text(errors="replace")[-3000:]
                if (tmp / "debootstrap" / "debootstrap.log").exists()
                else ""
            )
            raise VmError(
                f"debootstrap failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}{log}"
            )
        _write(tmp, "/etc/hostname", "wgpilot-sd\n")
        _write(tmp, "/etc/hosts", "127.0.0.1 localhost\n127.0.1.1 wgpilot-sd\n::1 localhost\n")
        _write(tmp, "/etc/fstab", "# the root is an overlay set up by the initramfs\n")
        _write(tmp, "/etc/systemd/network/20-wired.network", NETWORK)
        _write(tmp, "/usr/local/sbin/wgpilot-vmtest", RUNNER, 0o755)
        _write(tmp, "/etc/systemd/system/wgpilot-vmtest.service", UNIT)
        _write(tmp, "/etc/systemd/system/systemd-networkd-wait-online.service.d/any.conf", ONLINE_DROPIN)
        chroot = ["chroot", str(tmp), "systemctl"]
        subprocess.run(
            [*chroot, "enable", "systemd-networkd.service", "wgpilot-vmtest.service"],
            check=True,
            capture_output=True,
        )
        subprocess.run([*chroot, "mask", *MASK], check=True, capture_output=True)
        (tmp / ".complete").write_text(" ".join(PACKAGES) + "\n")
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if echo is not None:
        echo(f"wgpilot-vm: built {target}\n")
    return target


@dataclass
class SystemdVm(Vm):
    """Boot the debootstrap root with systemd as init; ``run`` takes a bash script."""

    def systemd_argv(self, initramfs: Path, rootfs: Path, run_dir: Path) -> list[str]:
        virtfs = "local,path={},mount_tag={},security_model=none,multidevs=remap"
        return [
            QEMU,
            "-machine", "q35",
            "-accel", self.accel,
            "-cpu", self.cpu_model,
            "-m", self.memory,
            "-smp", str(self.cpus),
            "-nographic",
            "-no-reboot",
            "-bios", "qboot.rom",
            "-nic", "user,model=virtio-net-pci",
            "-kernel", f"/boot/vmlinuz-{self.kernel}",
            "-initrd", str(initramfs),
            "-append", "console=ttyS0 quiet loglevel=1 panic=-1 rdinit=/init tsc=reliable "
                       "wgpilot.boot=systemd systemd.show_status=false",
            "-device", "virtio-rng-pci",
            "-virtfs", virtfs.format(rootfs, "sysroot") + ",readonly=on",
            "-virtfs", virtfs.format("/", "hostroot") + ",readonly=on",
            "-virtfs", virtfs.format(run_dir, "vmrun"),
        ]  # fmt: skip

    def run_script(
        self,
        script: str,
        *,
        files: dict[str, bytes] | None = None,
        timeout: float = 1800,
        echo: Callable[[str], None] | None = None,
        verbose: bool = False,
    ) -> Result:
        """Boot, run ``script`` with bash as root (files beside it in /vmrun), power off."""
        if shutil.which(QEMU) is None:
            raise VmError(f"{QEMU} is missing (apt-get install qemu-system-x86)")
        rootfs = build_rootfs(echo=echo)
        initramfs = build_initramfs(self.kernel)
        runs = CACHE / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        run_dir = Path(tempfile.mkdtemp(prefix="sd-", dir=runs))
        try:
            (run_dir / "cmd.sh").write_text(script)
            for name, data in (files or {}).items():
                (run_dir / name).write_bytes(data)
            return self._boot(self.systemd_argv(initramfs, rootfs, run_dir), run_dir, timeout, echo, verbose)
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.vm.systemd", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    build = sub.add_parser("build", help="build the debootstrap root (cached) and print its path")
    build.add_argument("--force", action="store_true")
    run = sub.add_parser("run", help="boot the systemd guest and run a bash script inside")
    run.add_argument("script", type=Path)
    run.add_argument("--timeout", type=float, default=1800)
    run.add_argument("--verbose", action="store_true", help="show the boot console too")
    args = parser.parse_args(argv)

    def echo(line: str) -> None:
        sys.stdout.write(line)
        sys.stdout.flush()

    try:
        if args.action == "build":
            print(build_rootfs(force=args.force, echo=echo))
            return 0
        result = SystemdVm().run_script(
            args.script.read_text(), timeout=args.timeout, echo=echo, verbose=args.verbose
        )
    except VmError as exc:
        print(f"wgpilot-vm: {exc}", file=sys.stderr)
        return 125
    print(
        f"wgpilot-vm: exit {result.code}; boot {result.boot_seconds:.1f} s, total {result.seconds:.1f} s",
        file=sys.stderr,
    )
    return result.code


if __name__ == "__main__":
    sys.exit(main())
