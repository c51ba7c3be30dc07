"""Reading what a helper process in a lab host printed as JSON lines (an SSE reader, a
monitor agent, an SMTP sink), while it is still writing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def json_lines(path: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line still being written
    return out


class EventLog:
    """Live-status events printed as ``{"event", "data", "t"}`` lines."""

    log: Path

    def docs(self) -> list[dict[str, Any]]:
        return json_lines(self.log)

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs() if d.get("event") == kind]

    def statuses(self, public_key: str) -> list[dict[str, Any]]:
        """Every status a peer was reported with, stamped with the time it arrived."""
        return [
            {**p, "t": d["t"]}
            for d in self.events("status")
            for p in d["data"]["peers"]
            if p["public_key"] == public_key
        ]
