"""Run a command on a real kernel with WireGuard: a QEMU guest (TCG) booting the host's
Debian kernel, with the host's root shared read-only over 9p and used as the guest's
root through a throw-away overlay, so the project's venv runs unchanged inside.

    python -m tests.vm.vm run [--timeout S] [--env K=V] [--share DIR] -- CMD...
    python -m tests.vm.vm build        # (re)build the cached initramfs and say where

The guest's init (busybox, from the initramfs) loads WireGuard and the 9p/overlay
modules, mounts the merged root with its own /proc, /sys, /dev, /run and /tmp,
chroots into it, runs the command from the repository directory with stdout and
stderr on the serial console, and powers off. The host streams the console and
returns the command's exit code. Nothing the guest writes reaches the host except
in the run directory and in directories passed with ``--share``.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.vm.initramfs import CACHE, REPO, VmError, build_initramfs, default_kernel

QEMU = "qemu-system-x86_64"
START = "@@wgpilot-vm start@@"  # printed by the guest's init (initramfs.INIT)
EXIT_RE = re.compile(r"@@wgpilot-vm exit (-?\d+)@@")
TIMEOUT_EXIT = 124
PR_SET_PDEATHSIG = 1

__all__ = ["CACHE", "QEMU", "REPO", "Result", "Vm", "VmError", "build_initramfs", "default_kernel", "main"]


def precompile() -> None:
    """Byte-compile the repository on the host (fast) so every guest boot does not redo it
    under emulation: the guest's own writes land in its throw-away overlay."""
    dirs = [str(REPO / d) for d in ("wgpilot", "tests", "bench") if (REPO / d).is_dir()]
    subprocess.run(
        [str(REPO / ".venv" / "bin" / "python"), "-m", "compileall", "-q", "-j", "0", *dirs],
        stdout=subprocess.DEVNULL,
        check=False,
    )


# -- running --------------------------------------------------------------------------------------
@dataclass
class Result:
    code: int
    output: str
    boot_seconds: float  # power-on until the command started
    seconds: float  # power-on until power-off


@dataclass
class Vm:
    """How to boot the guest; ``run`` boots a fresh one per command."""

    kernel: str = field(default_factory=default_kernel)
    memory: str = "2G"
    cpus: int = 2
    cwd: Path = REPO
    cpu_model: str = os.environ.get("WGPILOT_VM_CPU", "max")
    accel: str = os.environ.get("WGPILOT_VM_ACCEL", "tcg")

    def argv(self, initramfs: Path, run_dir: Path, shares: Sequence[Path]) -> list[str]:
        virtfs = "local,path={},mount_tag={},security_model=none,multidevs=remap"
        argv = [
            QEMU,
            "-machine", "q35",
            "-accel", self.accel,
            "-cpu", self.cpu_model,
            "-m", self.memory,
            "-smp", str(self.cpus),
            "-nographic",
            "-no-reboot",
            "-bios", "qboot.rom",
            "-nic", "none",
            "-kernel", f"/boot/vmlinuz-{self.kernel}",
            "-initrd", str(initramfs),
            "-append", "console=ttyS0 quiet loglevel=1 panic=-1 rdinit=/init tsc=reliable",
            "-device", "virtio-rng-pci",
            "-virtfs", virtfs.format("/", "hostroot") + ",readonly=on",
            "-virtfs", virtfs.format(run_dir, "vmrun"),
        ]  # fmt: skip
        for i, path in enumerate(shares):
            argv += ["-virtfs", virtfs.format(path, f"share{i}")]
        return argv

    def run(
        self,
        command: Sequence[str] | str,
        *,
        env: Mapping[str, str] | None = None,
        shares: Sequence[Path | str] = (),
        timeout: float = 1800,
        echo: Callable[[str], None] | None = None,
        verbose: bool = False,
    ) -> Result:
        """Boot, run ``command`` (argv, or a shell snippet when a str) in ``cwd``, power off.

        Output lines go to ``echo`` as they arrive (console noise before the command
        starts only when ``verbose``); a timeout kills the VM and gives exit code 124.
        """
        if shutil.which(QEMU) is None:
            raise VmError(f"{QEMU} is missing (apt-get install qemu-system-x86)")
        initramfs = build_initramfs(self.kernel)
        precompile()
        runs = CACHE / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=runs))
        share_paths = [Path(s).resolve() for s in shares]
        try:
            (run_dir / "cmd.sh").write_text(_script(command, self.cwd, env or {}))
            (run_dir / "shares").write_text("".join(f"{p}\n" for p in share_paths))
            if Path("/tmp") in Path(self.cwd).resolve().parents:  # e.g. a CI clone in /tmp
                (run_dir / "host_tmp").touch()
            return self._boot(self.argv(initramfs, run_dir, share_paths), run_dir, timeout, echo, verbose)
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)

    def _boot(
        self,
        argv: list[str],
        run_dir: Path,
        timeout: float,
        echo: Callable[[str], None] | None,
        verbose: bool,
    ) -> Result:
        t0 = time.monotonic()
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        lines: list[str] = []
        started: float | None = None
        code: int | None = None
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.decode(errors="replace").replace("\r", "")
                m = EXIT_RE.search(line)
                if m:
                    code = int(m.group(1))
                    continue
                if code is not None:
                    continue  # power-off chatter
                if started is None:
                    if START in line:
                        started = time.monotonic()
                        continue
                    if verbose or "wgpilot-vm:" in line or "Kernel panic" in line:
                        _emit(echo, line)
                    lines.append(line)
                    continue
                lines.append(line)
                _emit(echo, line)
            proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        end = time.monotonic()
        if code is None:
            rc_file = run_dir / "rc"
            if rc_file.exists():
                code = int(rc_file.read_text().strip() or 1)
            elif end - t0 >= timeout:
                _emit(echo, f"wgpilot-vm: timed out after {timeout:.0f} s; VM killed\n")
                code = TIMEOUT_EXIT
            else:
                tail = "".join(lines[-30:])
                raise VmError(
                    f"the VM stopped before the command finished (qemu exit {proc.returncode}):\n{tail}"
                )
        return Result(code, "".join(lines), (started or end) - t0, end - t0)


def _die_with_parent() -> None:
    """In the child before exec: a killed harness must not leave a VM running."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _emit(echo: Callable[[str], None] | None, line: str) -> None:
    if echo is not None:
        echo(line)


def _script(command: Sequence[str] | str, cwd: Path, env: Mapping[str, str]) -> str:
    body = command if isinstance(command, str) else shlex.join(command)
    venv = REPO / ".venv" / "bin"
    exports = {
        "PATH": f"{venv}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "TERM": "dumb",
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "VIRTUAL_ENV": str(venv.parent),
        "WGPILOT_VM": "1",
        **env,
    }
    lines = ["set -e"]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in exports.items()]
    lines += [
        f"cd {shlex.quote(str(cwd))}",
        "set +e",
        body if isinstance(command, str) else f"exec {body}",
        "",
    ]
    return "\n".join(lines)


# -- command line ---------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.vm.vm", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    build = sub.add_parser("build", help="build the initramfs (cached) and print its path")
    build.add_argument("--force", action="store_true")
    run = sub.add_parser("run", help="boot the VM and run a command inside")
    run.add_argument("--timeout", type=float, default=1800)
    run.add_argument("--env", action="append", default=[], metavar="K=V")
    run.add_argument(
        "--share", action="append", default=[], metavar="DIR", help="host dir, writable in the guest"
    )
    run.add_argument("--verbose", action="store_true", help="show the boot console too")
    run.add_argument("command", nargs=argparse.REMAINDER)
    for p in (build, run):
        p.add_argument("--kernel", default=None, help="kernel version (default: linux-image-amd64's)")
        p.add_argument("--memory", default="2G")
        p.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args(argv)
    vm = Vm(kernel=args.kernel or default_kernel(), memory=args.memory, cpus=args.cpus)
    try:
        if args.action == "build":
            print(build_initramfs(vm.kernel, force=args.force))
            return 0
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        if not command:
            parser.error("run needs a command after --")
        env = dict(kv.split("=", 1) for kv in args.env)
        for path in args.share:
            Path(path).mkdir(parents=True, exist_ok=True)

        def echo(line: str) -> None:
            sys.stdout.write(line)
            sys.stdout.flush()

        result = vm.run(
            command, env=env, shares=args.share, timeout=args.timeout, echo=echo, verbose=args.verbose
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
