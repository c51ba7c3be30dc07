"""Configuration: ``config.toml`` < ``WGPILOT_*`` environment < command-line flags.

Every option is declared once in ``OPTIONS`` (key, type, default, check, help); the
loader, ``wgpilot config check``, the env-variable names and the documentation test
all read that one table. The result is one frozen ``Settings`` object.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wgpilot.domain.validate import ascii_int

DEFAULT_CONFIG = Path("/etc/wgpilot/config.toml")
DEFAULT_DATA_DIR = Path("/var/lib/wgpilot")
DEFAULT_RUNTIME_DIR = Path("/run/wgpilot")
ENV_PREFIX = "WGPILOT_"


class ConfigError(Exception):
    """A bad key or value; the message names the key, the value and where it came from."""


def _choice(*allowed: str) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        return None if v in allowed else f"must be one of {', '.join(allowed)}"

    return check


def _positive(v: Any) -> str | None:
    return None if v > 0 else "must be greater than 0"


def _listen(v: Any) -> str | None:
    if v == "":
        return None
    _host, sep, port = str(v).rpartition(":")
    number = ascii_int(port, max_digits=5)
    if not sep or number is None or not 0 <= number <= 65535:
        return "must look like HOST:PORT, [IPv6]:PORT or :PORT (port in digits 0-9)"
    return None


def _http_url(v: Any) -> str | None:
    if v == "" or str(v).startswith(("https://", "http://")):
        return None
    return "must be an http(s):// URL, or empty"


def _not_negative(v: Any) -> str | None:
    return None if v >= 0 else "must be 0 or greater"


def _bcrypt_cost(v: Any) -> str | None:
    return None if 4 <= v <= 16 else "must be between 4 and 16 (12 recommended)"


@dataclass(frozen=True)
class Option:
    key: str
    type: type
    default: Any
    help: str
    check: Callable[[Any], str | None] | None = None

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.key.replace(".", "_").upper()


OPTIONS: tuple[Option, ...] = (
    Option(
        "listen",
        str,
        "",
        "HTTPS address HOST:PORT; empty = :443, falling back to :8443 when taken; port 0 = any free"
        " port (tests: it is logged)",
        _listen,
    ),
    Option(
        "data_dir", str, str(DEFAULT_DATA_DIR), "directory holding data.db, master.key, certs/ and backups/"
    ),
    Option(
        "driver",
        str,
        "auto",
        "WireGuard driver: auto, netlink, userspace or none",
        _choice("auto", "netlink", "userspace", "none"),
    ),
    Option(
        "userspace_binary", str, "wireguard-go", "userspace WireGuard daemon started for the userspace driver"
    ),
    Option("wireguard_dir", str, "/etc/wireguard", "directory of wg-quick files the setup offers to import"),
    Option(
        "runtime_dir",
        str,
        str(DEFAULT_RUNTIME_DIR),
        "where a server with a data_dir other than the default says where it runs, "
        "so the CLI finds it without --data-dir",
    ),
    Option(
        "reconcile_interval",
        int,
        30,
        "seconds between background reconciliations of the kernel with the database",
        _positive,
    ),
    Option(
        "tls.mode",
        str,
        "self-signed",
        "self-signed, acme or manual",
        _choice("self-signed", "acme", "manual"),
    ),
    Option("tls.domain", str, "", "host name for the ACME certificate"),
    Option("tls.cert_file", str, "", "certificate chain (PEM) for manual mode"),
    Option("tls.key_file", str, "", "private key (PEM) for manual mode"),
    Option("tls.acme_directory", str, "https://acme-v02.api.letsencrypt.org/directory", "ACME directory URL"),
    Option("tls.acme_ca_bundle", str, "", "CA bundle to trust for the ACME server (tests, private CAs)"),
    Option("tls.acme_email", str, "", "contact address for the ACME account"),
    Option(
        "tls.http_port",
        int,
        80,
        "port for ACME HTTP-01 and the HTTP→HTTPS redirect; 0 disables",
        lambda v: None if 0 <= v <= 65535 else "must be between 0 and 65535",
    ),
    Option(
        "http.header_timeout",
        int,
        10,
        "seconds for a TLS handshake, and for a request's head from its first byte (then 408 and close); "
        "a request body gets this plus its length at 16 KiB/s (at most 1 h; 60 s without a length)",
        _positive,
    ),
    Option(
        "http.idle_timeout",
        int,
        30,
        "seconds a connection may wait with no request in progress, or with its request body stalled "
        "(no byte of it arriving)",
        _positive,
    ),
    Option(
        "http.max_connections",
        int,
        256,
        "open HTTPS connections in all; more get 503 (the machine's own loopback connections excepted)",
        _positive,
    ),
    Option(
        "http.max_connections_per_ip",
        int,
        32,
        "open HTTPS connections per client address (IPv6: per /64); more get 429",
        _positive,
    ),
    Option("auth.session_ttl", int, 86400, "session lifetime in seconds", _positive),
    Option("auth.bcrypt_cost", int, 12, "bcrypt work factor for password hashes", _bcrypt_cost),
    Option(
        "log.level",
        str,
        "info",
        "debug, info, warning or error",
        _choice("debug", "info", "warning", "error"),
    ),
    Option("log.format", str, "json", "json (production) or text", _choice("json", "text")),
    Option("monitor.poll_interval", float, 5.0, "seconds between reads of peer status", _positive),
    Option(
        "monitor.snapshot_interval",
        float,
        30.0,
        "seconds between transfer snapshots to the database",
        _positive,
    ),
    Option(
        "monitor.online_threshold",
        int,
        180,
        "a peer is online when its last handshake is younger than this (s)",
        _positive,
    ),
    Option(
        "monitor.stream_max_age",
        float,
        900.0,
        "seconds a live event stream stays open before the browser reconnects (re-checks its session)",
        _positive,
    ),
    Option(
        "monitor.max_streams",
        int,
        256,
        "live event streams open at once in all; more get 503 (SERVER_BUSY, as for connections)",
        _positive,
    ),
    Option(
        "monitor.max_streams_per_ip",
        int,
        16,
        "live event streams open at once per client address (IPv6: per /64); more get 429",
        _positive,
    ),
    Option(
        "metrics.token",
        str,
        "",
        "bearer token /metrics requires; empty = the token wgpilot generated (shown in Settings)",
    ),
    Option(
        "update.release_url",
        str,
        "",
        "where releases are (…/latest/download/, …/download/v<version>/); empty = the one this build was made with",
        _http_url,
    ),
    Option(
        "update.url",
        str,
        "",
        "manifest of the latest release, when not <release_url>/latest/download/manifest.json ({channel} is replaced)",
        _http_url,
    ),
    Option(
        "update.public_key",
        str,
        "",
        "more Ed25519 public keys (base64) trusted for updates besides the built-in one (key rotation, mirrors)",
    ),
    Option(
        "update.check_interval",
        int,
        86400,
        "seconds between the server's checks for a new release; 0 = never (wgpilot update still works)",
        _not_negative,
    ),
)
BY_KEY = {o.key: o for o in OPTIONS}


@dataclass(frozen=True)
class Settings:
    values: Mapping[str, Any]
    config_file: Path | None
    # Keys the config file, the environment or a flag set (the rest are defaults).
    explicit: frozenset[str] = frozenset()

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    @property
    def data_dir(self) -> Path:
        return Path(self.values["data_dir"])

    @property
    def db_path(self) -> Path:
        return self.data_dir / "data.db"

    @property
    def master_key_path(self) -> Path:
        return self.data_dir / "master.key"

    def replace(self, **changes: Any) -> Settings:
        values = dict(self.values)
        for k, v in changes.items():
            values[k.replace("__", ".")] = v
        return Settings(values, self.config_file, self.explicit | {k.replace("__", ".") for k in changes})


# A decimal number in ASCII digits: float() also reads other scripts' digits, "1_0",
# "nan" and "inf" (and TOML has inf and nan literals), none of them a duration.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _coerce(opt: Option, raw: Any, source: str) -> Any:
    value = raw
    if opt.type is int:
        if isinstance(raw, str):
            text = raw.strip()
            value = ascii_int(text[1:]) if text.startswith("+") else ascii_int(text, signed=True)
            if value is None:
                raise ConfigError(f"{opt.key} = {raw!r} ({source}): must be an integer (digits 0-9)")
        elif isinstance(raw, bool) or not isinstance(raw, int):
            raise ConfigError(f"{opt.key} = {raw!r} ({source}): must be an integer")
    elif opt.type is float:
        if isinstance(raw, str):
            if not _DECIMAL.fullmatch(raw.strip()):
                raise ConfigError(f"{opt.key} = {raw!r} ({source}): must be a number (digits 0-9)")
            value = float(raw.strip())
        elif isinstance(raw, bool) or not isinstance(raw, int | float):
            raise ConfigError(f"{opt.key} = {raw!r} ({source}): must be a number")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"{opt.key} = {raw!r} ({source}): must be a finite number")
    elif opt.type is str:
        if not isinstance(raw, str):
            raise ConfigError(f"{opt.key} = {raw!r} ({source}): must be a string")
    if opt.check is not None:
        problem = opt.check(value)
        if problem:
            raise ConfigError(f"{opt.key} = {raw!r} ({source}): {problem}")
    return value


def _flatten(doc: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in doc.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def read_file(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    flat = _flatten(doc)
    for key in flat:
        if key not in BY_KEY:
            raise ConfigError(f"{path}: unknown key {key!r} (known: {', '.join(sorted(BY_KEY))})")
    return flat


def load(
    config_file: str | Path | None = None,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Merge defaults, the config file, WGPILOT_* env vars and flags (None = not given)."""
    env = os.environ if env is None else env
    values = {o.key: o.default for o in OPTIONS}
    path: Path | None = None
    if config_file is None:
        config_file = env.get(ENV_PREFIX + "CONFIG")
    if config_file:
        path = Path(config_file)
        if not path.exists():
            raise ConfigError(f"config file {path} does not exist")
    elif DEFAULT_CONFIG.exists():
        path = DEFAULT_CONFIG
    explicit: set[str] = set()
    if path is not None:
        for key, raw in read_file(path).items():
            values[key] = _coerce(BY_KEY[key], raw, str(path))
            explicit.add(key)
    for opt in OPTIONS:
        if opt.env in env:
            values[opt.key] = _coerce(opt, env[opt.env], f"environment {opt.env}")
            explicit.add(opt.key)
    for key, raw in (flags or {}).items():
        if raw is None:
            continue
        if key not in BY_KEY:
            raise ConfigError(f"unknown option {key!r}")
        values[key] = _coerce(BY_KEY[key], raw, "command line")
        explicit.add(key)
    if values["tls.mode"] == "manual" and not (values["tls.cert_file"] and values["tls.key_file"]):
        raise ConfigError("tls.mode = 'manual' needs tls.cert_file and tls.key_file")
    if values["tls.mode"] == "acme" and not values["tls.domain"]:
        raise ConfigError("tls.mode = 'acme' needs tls.domain")
    values["data_dir"] = str(Path(values["data_dir"]).expanduser().absolute())
    return Settings(values, path, frozenset(explicit))


def default_toml() -> str:
    """A commented config file with every option at its default (install.sh writes it)."""
    lines = ["# wgpilot configuration. Environment: WGPILOT_<SECTION>_<KEY>; flags win over both.", ""]
    section = None
    for opt in OPTIONS:
        sect, _, name = opt.key.rpartition(".")
        if sect != section:
            if sect:
                lines += ["", f"[{sect}]"]
            section = sect
        value = opt.default
        rendered = f'"{value}"' if isinstance(value, str) else str(value)
        lines.append(f"# {opt.help}")
        lines.append(f"# {name} = {rendered}")
    return "\n".join(lines) + "\n"
