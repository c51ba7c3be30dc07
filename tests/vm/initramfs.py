"""The guest's boot image: the host's installed Debian kernel plus an initramfs of
busybox, the modules the root file system and WireGuard need, and an init script
(cached outside the clone, in ``$XDG_CACHE_HOME/wgpilot/vm`` (``~/.cache/wgpilot/vm``),
keyed by the kernel, busybox and the script, so fresh clones reuse it).

The init script loads the modules, mounts the host's root (9p, read-only) under a
tmpfs overlay, gives it its own /proc, /sys, /dev, /run and /tmp, mounts the run
directory (9p, writable) at /run/vm and any shared directories at their own paths,
then chroots in, runs /run/vm/cmd.sh on the console and powers off. With
``wgpilot.boot=systemd`` on the kernel command line it instead switches to a Debian
root shared as "sysroot" (tmpfs overlay, the host's modules bound in, the run
directory at /vmrun) and hands over to systemd (``tests.vm.systemd``).
"""

from __future__ import annotations

import hashlib
import lzma
import os
import re
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(
    os.environ.get("WGPILOT_VM_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wgpilot" / "vm"
)
BUSYBOX = "/bin/busybox"
# Loaded by the initramfs itself: the root file system needs 9p and overlay, and
# WireGuard is loaded up front (the measured recipe) so a missing or broken
# module fails the boot loudly instead of a test later. Everything else (veth,
# bridge, nf_tables, ...) is loaded on demand through the modprobe shim below.
MODULES = ("virtio_pci", "9pnet_virtio", "9p", "overlay", "virtio_rng", "wireguard")

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# Keep kernel chatter off the console the command's output is streamed on.
echo "1 4 1 7" > /proc/sys/kernel/printk
fail() { echo "wgpilot-vm: $*"; echo "@@wgpilot-vm exit 125@@"; poweroff -f; }
while read -r mod; do
    insmod "/modules/$mod" || fail "insmod $mod failed"
done < /modules/order
mkdir -p /mnt/lower /mnt/rw /mnt/run /mnt/host /newroot
opts=trans=virtio,version=9p2000.L,msize=1048576
# wgpilot.boot=systemd: the root is a Debian tree (tag "sysroot", tests/vm/systemd.py)
# booted with systemd as init; the kernel's modules come from the host.
lower=hostroot
grep -q 'wgpilot.boot=systemd' /proc/cmdline && lower=sysroot
mount -t 9p -o "$opts,cache=loose,ro" $lower /mnt/lower || fail "cannot mount the root ($lower, 9p)"
mount -t 9p -o "$opts,cache=none" vmrun /mnt/run || fail "cannot mount the run directory (9p)"
mount -t tmpfs -o mode=0755 rw /mnt/rw
mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay -o lowerdir=/mnt/lower,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work root /newroot \
    || fail "cannot mount the overlay root"
R=/newroot
if [ "$lower" = sysroot ]; then
    kver=$(uname -r)
    mount -t 9p -o "$opts,cache=loose,ro" hostroot /mnt/host || fail "cannot mount the host root (9p)"
    mkdir -p $R/lib/modules/$kver $R/vmrun
    mount --bind /mnt/host/lib/modules/$kver $R/lib/modules/$kver
    mount --move /mnt/run $R/vmrun
    umount /proc /sys
    mount --move /dev $R/dev
    exec switch_root $R /lib/systemd/systemd
fi
mount -t proc proc $R/proc
mount -t sysfs sys $R/sys
mount -t devtmpfs dev $R/dev
mkdir -p $R/dev/pts $R/dev/shm $R/dev/net
# Static node, as kmod's static-nodes gives a normal boot: opening it loads tun.
mknod -m 666 $R/dev/net/tun c 10 200
# What udev/systemd add to a normal /dev (bash's <(...) needs /dev/fd).
ln -s /proc/self/fd $R/dev/fd
ln -s /proc/self/fd/0 $R/dev/stdin
ln -s /proc/self/fd/1 $R/dev/stdout
ln -s /proc/self/fd/2 $R/dev/stderr
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts $R/dev/pts
mount -t tmpfs -o mode=1777 shm $R/dev/shm
# The guest's own /tmp, unless the project itself lives under the host's /tmp.
[ -e /mnt/run/host_tmp ] || mount -t tmpfs -o mode=1777 tmp $R/tmp
mount -t tmpfs -o mode=0755 run $R/run
mount -t cgroup2 cgroup2 $R/sys/fs/cgroup 2>/dev/null
mount -t bpf bpf $R/sys/fs/bpf 2>/dev/null
mkdir -p $R/run/vm $R/run/netns $R/run/wireguard
mount --bind /mnt/run $R/run/vm
i=0
while read -r path; do
    [ -n "$path" ] || continue
    mkdir -p "$R$path"
    mount -t 9p -o "$opts,cache=none" "share$i" "$R$path" || fail "cannot mount share $path"
    i=$((i + 1))
done < /mnt/run/shares
hostname wgpilot-vm
ip link set lo up 2>/dev/null
echo "@@wgpilot-vm start@@"
chroot $R /bin/sh /run/vm/cmd.sh < /dev/null > /dev/console 2>&1
rc=$?
echo "$rc" > /mnt/run/rc
sync
echo
echo "@@wgpilot-vm exit $rc@@"
poweroff -f
"""

# The kernel runs request_module()'s helper in the initramfs root, not the chroot:
# hand the request to the host's kmod inside the merged root.
MODPROBE_SHIM = """#!/bin/busybox sh
exec /bin/busybox chroot /newroot /sbin/modprobe "$@"
"""


class VmError(RuntimeError):
    """The VM could not be built or booted (not: the command failed)."""


# -- kernel and initramfs ---------------------------------------------------------------------
def default_kernel() -> str:
    """The version ``linux-image-amd64`` points at, else the newest non-RT kernel with WireGuard."""
    chosen = os.environ.get("WGPILOT_VM_KERNEL")
    if chosen:
        return chosen
    try:
        depends = subprocess.run(
            ["dpkg-query", "-W", "-f=${Depends}", "linux-image-amd64"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        m = re.search(r"linux-image-(\S+)", depends)
        if m and _kernel_usable(m.group(1)):
            return m.group(1)
    except (OSError, subprocess.CalledProcessError):
        pass
    found = sorted(
        (p.name.removeprefix("vmlinuz-") for p in Path("/boot").glob("vmlinuz-*")),
        key=lambda v: ("-rt-" in v, [-int(x) if x.isdigit() else 0 for x in re.split(r"[.+-]", v)]),
    )
    for version in found:
        if _kernel_usable(version):
            return version
    raise VmError("no kernel with a WireGuard module in /boot (apt-get install linux-image-amd64)")


def _kernel_usable(version: str) -> bool:
    mods = Path("/lib/modules") / version
    return Path(f"/boot/vmlinuz-{version}").is_file() and any(
        mods.glob("kernel/drivers/net/wireguard/wireguard.ko*")
    )


def module_paths(version: str, names: Iterable[str]) -> list[Path]:
    """Module files to insmod, dependencies first, each once (``modprobe --show-depends``)."""
    out: list[Path] = []
    for name in names:
        proc = subprocess.run(
            ["modprobe", "-S", version, "--show-depends", name], capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise VmError(f"kernel {version} has no module {name}: {proc.stderr.strip()}")
        for line in proc.stdout.splitlines():
            parts = line.split()
            if parts and parts[0] == "insmod" and Path(parts[1]) not in out:
                out.append(Path(parts[1]))
    return out


def _module_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".xz":
        return lzma.decompress(data)  # busybox insmod takes plain ELF objects only
    if path.suffix in {".zst", ".gz"}:
        raise VmError(f"{path}: compressed modules other than .xz are not supported")
    return data


def _cpio(entries: Sequence[tuple[str, int, bytes]]) -> bytes:
    """A newc cpio archive of (name, mode, data) entries; directories have no data."""
    out = bytearray()
    for ino, (name, mode, data) in enumerate([*entries, ("TRAILER!!!", 0, b"")], start=1):
        raw = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(raw), 0)
        out += b"070701" + b"".join(b"%08X" % f for f in fields) + raw
        out += b"\0" * (-len(out) % 4) + data
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


def build_initramfs(version: str, *, force: bool = False) -> Path:
    """Build (or reuse from the cache) the initramfs for ``version``; returns its path."""
    mods = module_paths(version, MODULES)
    busybox = Path(BUSYBOX)
    if not busybox.is_file():
        raise VmError("busybox is missing (apt-get install busybox-static)")
    h = hashlib.sha256()
    for part in (INIT, MODPROBE_SHIM, version, *map(str, mods)):
        h.update(part.encode() + b"\0")
    for p in (busybox, *mods):
        st = p.stat()
        h.update(f"{p}:{st.st_size}:{st.st_mtime_ns}".encode())
    target = CACHE / f"initramfs-{version}-{h.hexdigest()[:12]}.cpio"
    if target.exists() and not force:
        return target
    d, f, x = 0o040755, 0o100644, 0o100755
    entries: list[tuple[str, int, bytes]] = [
        (name, d, b"") for name in ("bin", "dev", "proc", "sys", "mnt", "modules", "newroot", "sbin")
    ]
    entries += [
        ("bin/busybox", x, busybox.read_bytes()),
        ("init", x, INIT.encode()),
        ("sbin/modprobe", x, MODPROBE_SHIM.encode()),
    ]
    order = []
    for p in mods:
        name = p.name.removesuffix(".xz")
        entries.append((f"modules/{name}", f, _module_bytes(p)))
        order.append(name)
    entries.append(("modules/order", f, ("\n".join(order) + "\n").encode()))
    CACHE.mkdir(parents=True, exist_ok=True)
    for old in CACHE.glob(f"initramfs-{version}-*.cpio"):
        old.unlink()
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(_cpio(entries))
    tmp.replace(target)
    return target
