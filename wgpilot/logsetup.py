"""Logging: JSON lines in production (journald keeps them), readable text in dev.
Fields passed with ``extra={...}`` become JSON keys. The level can be changed at run
time (SIGHUP re-reads it from the config).

A record stays bounded whatever a request carried: a text field keeps MAX_FIELD
characters, a traceback MAX_TRACE (each of its lines MAX_LINE), the cut said in place.
An exception's message may quote the request (a 60 KB path once made 187 KB of log)."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


MAX_FIELD = 2048
MAX_LINE = 1024
MAX_TRACE = 16384


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    keep = limit // 2
    return f"{text[:keep]}…[{len(text) - 2 * keep} characters cut]…{text[-keep:]}"


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        k: _cut(v, MAX_FIELD) if isinstance(v, str) else v
        for k, v in record.__dict__.items()
        if k not in _STANDARD and not k.startswith("_")
    }


class _Bounded(logging.Formatter):
    def formatException(self, ei: Any) -> str:
        lines = super().formatException(ei).split("\n")
        return _cut("\n".join(_cut(line, MAX_LINE) for line in lines), MAX_TRACE)


class JsonFormatter(_Bounded):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": round(record.created, 3),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        doc.update(_extras(record))
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, ensure_ascii=False)


class TextFormatter(_Bounded):
    def format(self, record: logging.LogRecord) -> str:
        base = f"{time.strftime('%H:%M:%S', time.localtime(record.created))} {record.levelname:<7} {record.name}: {record.getMessage()}"
        extras = _extras(record)
        if extras:
            base += "  " + " ".join(f"{k}={v}" for k, v in extras.items())
        if record.exc_info:
            base += "\n" + self.formatException(record.exc_info)
        return base


def setup(level: str = "info", fmt: str = "json", stream: Any = None) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_wgpilot", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._wgpilot = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    set_level(level)
    for noisy in ("pyroute2", "aiosqlite", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def set_level(level: str) -> None:
    logging.getLogger().setLevel(LEVELS.get(level, logging.INFO))
