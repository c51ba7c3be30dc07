"""Logging: JSON lines in production (journald keeps them), readable text in dev.
Fields passed with ``extra={...}`` become JSON keys. The level can be changed at run
time (SIGHUP re-reads it from the config).

One record is one line in either format, whatever its fields hold (user input such
as a username may carry a newline meant to forge a second record). JSON escapes C0
controls itself; C1 controls and U+2028/U+2029, which it would leave raw, are escaped
here too. The text format escapes every control character (C0, DEL, C1,
U+2028/U+2029) in the message and in every field (``\\n``, ``\\x1b``, ``\\u2028``),
quotes a field value that holds a space, ``=`` or ``"`` (so a value cannot forge
another field either), and indents a traceback's lines.

A record stays bounded whatever a request carried: a text field keeps MAX_FIELD
characters, a traceback MAX_TRACE (each of its lines MAX_LINE), the cut said in place.
A traceback is bounded too because an exception's message may quote the request (a
path, a header) at whatever length the client sent."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}
# uvicorn repeats its message with ANSI colour codes for its own formatter; ours has the message.
_STANDARD.add("color_message")
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


_JSON_CONTROL = {c: f"\\u{c:04x}" for c in (*range(0x7F, 0xA0), 0x2028, 0x2029)}


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
        line = json.dumps(doc, default=str, ensure_ascii=False)
        # JSON leaves C1 controls and U+2028/2029 raw; some readers break lines there.
        return line if line.isascii() else line.translate(_JSON_CONTROL)


_CONTROL = {
    c: {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(chr(c), f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}")
    for c in (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)
}


def escape(text: str) -> str:
    """``text`` with every control character written as an escape: it stays on one line."""
    return text if text.isprintable() else text.translate(_CONTROL)


def _value(value: Any) -> str:
    text = str(value)
    if not text or any(c in text for c in ' ="'):
        text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return escape(text)


class TextFormatter(_Bounded):
    def format(self, record: logging.LogRecord) -> str:
        base = f"{time.strftime('%H:%M:%S', time.localtime(record.created))} {record.levelname:<7} {record.name}: {escape(record.getMessage())}"
        extras = _extras(record)
        if extras:
            base += "  " + " ".join(f"{escape(k)}={_value(v)}" for k, v in extras.items())
        if record.exc_info:
            # Multi-line by nature; each line indented, so none can pass for a record.
            lines = self.formatException(record.exc_info).splitlines()
            base += "".join(f"\n    {escape(line)}" for line in lines)
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
