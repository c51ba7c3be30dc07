"""A minimal binding of libnftables (``libnftables.so.1``) through ctypes, JSON in and out.

Why our own: the official Python module is itself a thin ctypes wrapper, PyPI's
``pip-nftables`` is an outdated unofficial copy, and Debian's ``python3-nftables``
cannot be imported from a virtualenv or a frozen binary. The library's C API is
small and stable: a context, output/error buffers, and ``nft_run_cmd_from_buffer``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import threading
from typing import Any

from wgpilot.domain.errors import KernelError

NFT_CTX_DEFAULT = 0
NFT_CTX_OUTPUT_HANDLE = 1 << 3
NFT_CTX_OUTPUT_JSON = 1 << 4

INSTALL_HINT = (
    "libnftables.so.1 was not found: install it with 'apt install libnftables1' "
    "(Debian/Ubuntu) or 'dnf install nftables' (Fedora/RHEL)"
)


class NftablesUnavailable(KernelError):
    code = "NFTABLES_UNAVAILABLE"


def _load() -> ctypes.CDLL:
    names = ["libnftables.so.1"]
    found = ctypes.util.find_library("nftables")
    if found and found not in names:
        names.append(found)
    last: OSError | None = None
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError as exc:
            last = exc
    raise NftablesUnavailable(INSTALL_HINT) from last


class Nftables:
    """One libnftables context. Calls are serialised: a context is not thread-safe."""

    def __init__(self) -> None:
        lib = _load()
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_output_get_flags.restype = ctypes.c_uint
        lib.nft_ctx_output_get_flags.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
        lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        self._lib = lib
        self._ctx = lib.nft_ctx_new(NFT_CTX_DEFAULT)
        if not self._ctx:
            raise KernelError("libnftables: cannot create a context")
        lib.nft_ctx_output_set_flags(self._ctx, NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_HANDLE)
        lib.nft_ctx_buffer_output(self._ctx)
        lib.nft_ctx_buffer_error(self._ctx)
        self._lock = threading.Lock()

    def run(self, payload: dict[str, Any] | str) -> dict[str, Any] | None:
        """Run a JSON document (``{"nftables": [...]}``) or a text command.

        Returns the parsed JSON output (None when there is none); raises KernelError
        with libnftables' own message on failure. A failed batch applies nothing.
        """
        text = payload if isinstance(payload, str) else json.dumps(payload)
        with self._lock:
            rc = self._lib.nft_run_cmd_from_buffer(self._ctx, text.encode())
            out = self._lib.nft_ctx_get_output_buffer(self._ctx) or b""
            err = self._lib.nft_ctx_get_error_buffer(self._ctx) or b""
        if rc != 0:
            message = err.decode(errors="replace").strip() or f"nft returned {rc}"
            raise KernelError(f"nftables: {message}")
        out_text = out.decode(errors="replace").strip()
        return json.loads(out_text) if out_text else None

    def close(self) -> None:
        with self._lock:
            if self._ctx:
                self._lib.nft_ctx_free(self._ctx)
                self._ctx = None

    def __del__(self) -> None:  # pragma: no cover - interpreter teardown
        try:
            self.close()
        except Exception:  # noqa: S110 - nothing sensible to do at teardown
            pass
