"""Verified self-update: signed manifest, size/SHA-256 checked download, atomic swap,
restart, health check, rollback."""
