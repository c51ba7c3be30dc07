"""HTTP(S) downloads with a hard size cap, streamed to disk and hashed on the way."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from typing import Any, BinaryIO

from wgpilot.update.manifest import UpdateError

CHUNK = 256 * 1024
TIMEOUT = 30.0
USER_AGENT = "wgpilot-update"


def _open(url: str, timeout: float) -> Any:
    if not url.startswith(("https://", "http://")):
        raise UpdateError(f"{url}: only http(s) URLs are supported")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})  # noqa: S310
    try:
        return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310
    except urllib.error.HTTPError as exc:
        raise UpdateError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UpdateError(f"cannot reach {url}: {reason}") from None


def get(url: str, max_bytes: int, timeout: float = TIMEOUT) -> bytes:
    """The whole body, refused when it is larger than ``max_bytes``."""
    with _open(url, timeout) as resp:
        try:
            data = resp.read(max_bytes + 1)
        except OSError as exc:
            raise UpdateError(f"{url}: download failed: {exc}") from None
    if len(data) > max_bytes:
        raise UpdateError(f"{url}: larger than {max_bytes} bytes, refused")
    return data


def download(url: str, out: BinaryIO, size: int, sha256: str, timeout: float = TIMEOUT) -> None:
    """Stream ``url`` into ``out``: exactly ``size`` bytes whose SHA-256 is ``sha256``,
    else UpdateError. Never reads more than ``size + 1`` bytes."""
    digest = hashlib.sha256()
    got = 0
    with _open(url, timeout) as resp:
        while got <= size:
            try:
                chunk = resp.read(min(CHUNK, size + 1 - got))
            except OSError as exc:
                raise UpdateError(f"{url}: download failed after {got} bytes: {exc}") from None
            if not chunk:
                break
            got += len(chunk)
            digest.update(chunk)
            out.write(chunk)
    if got > size:
        raise UpdateError(f"{url}: larger than the {size} bytes the manifest states, refused")
    if got < size:
        raise UpdateError(f"{url}: truncated download ({got} of {size} bytes), refused")
    if digest.hexdigest() != sha256:
        raise UpdateError(f"{url}: SHA-256 does not match the signed manifest, refused")
    out.flush()
    os.fsync(out.fileno())
