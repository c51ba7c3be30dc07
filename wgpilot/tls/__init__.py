"""Certificates for the HTTPS server: self-signed, manual files, or ACME (HTTP-01)."""

from __future__ import annotations

from wgpilot.tls.manager import DbSettingsStore, TlsError, TlsManager

__all__ = ["DbSettingsStore", "TlsError", "TlsManager"]
