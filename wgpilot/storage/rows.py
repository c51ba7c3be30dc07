"""Small helpers shared by the repositories: JSON list columns and update building."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any


def dump_list(values: Iterable[str]) -> str:
    items = list(values)
    if not items:
        return "[]"
    # Fast path, the mirror of load_list's: printable ASCII without quote or backslash
    # is written by JSON exactly as it is (CIDRs always are).
    if all(v.isascii() and v.isprintable() and '"' not in v and "\\" not in v for v in items):
        return '["' + '","'.join(items) + '"]'
    return json.dumps(items, separators=(",", ":"))


def load_list(text: str | None) -> tuple[str, ...]:
    if not text or text == "[]":
        return ()
    # Fast path for what we write ourselves: CIDRs and names never need JSON escapes.
    if text.startswith('["') and text.endswith('"]') and "\\" not in text:
        return tuple(text[2:-2].split('","'))
    return tuple(json.loads(text))


def set_clause(changes: Mapping[str, Any], allowed: frozenset[str]) -> tuple[str, list[Any]]:
    """``col = ?, …`` for an UPDATE, refusing any column not in ``allowed``."""
    unknown = set(changes) - allowed
    if unknown:
        raise KeyError(f"not updatable: {sorted(unknown)}")
    cols = sorted(changes)
    return ", ".join(f"{c} = ?" for c in cols), [changes[c] for c in cols]
