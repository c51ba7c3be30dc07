"""One log record is one line in both formats, and stays bounded, whatever its fields carry."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from wgpilot import logsetup

FORGED = "12:00:00 INFO    wgpilot.services.auth: login  username=admin ip=192.0.2.1"
# Every kind of line break and terminal control a field could carry.
NASTY = [
    f"x\n{FORGED}",
    f"x\r{FORGED}",
    f"x\r\n{FORGED}",
    f"x\u2028{FORGED}",
    f"x\u2029{FORGED}",
    f"x\x85{FORGED}",
    f"x\x0b{FORGED}",
    f"x\x0c{FORGED}",
    f"x\x1c{FORGED}",
    f"x\x1b[2K\x1b[1G{FORGED}",
    f"x\x00\x7f\x9b{FORGED}",
    f"x\t{FORGED}",
]


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    level = root.level
    yield io.StringIO()
    for handler in list(root.handlers):
        if getattr(handler, "_wgpilot", False):
            root.removeHandler(handler)
    root.setLevel(level)


def _emit(out: io.StringIO, fmt: str, value: str) -> list[str]:
    logsetup.setup("info", fmt, out)
    out.seek(0)
    out.truncate()
    logging.getLogger("wgpilot.test").warning(
        f"message {value}", extra={"username": value, "ip": "192.0.2.9"}
    )
    # str.splitlines breaks at every separator a terminal, journald or an editor might honour.
    return out.getvalue().splitlines()


@pytest.mark.parametrize("value", NASTY)
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_control_character_cannot_start_a_second_record(logged: io.StringIO, fmt: str, value: str) -> None:
    lines = _emit(logged, fmt, value)
    assert len(lines) == 1, lines
    if fmt == "json":
        doc = json.loads(lines[0])
        assert doc["username"] == value and doc["msg"] == f"message {value}"  # escaped, not lost
    else:
        assert lines[0].count(FORGED) == 2  # message and field, both kept, inline


def test_text_escapes_are_readable(logged: io.StringIO) -> None:
    (line,) = _emit(logged, "text", "a\nb\x1bc\u2028d")
    assert "message a\\nb\\x1bc\\u2028d" in line
    assert 'username="a\\nb\\x1bc\\u2028d"' not in line  # no quotes needed: no space in it
    assert "username=a\\nb\\x1bc\\u2028d" in line


def test_a_text_field_cannot_forge_another_field(logged: io.StringIO) -> None:
    import shlex

    (line,) = _emit(logged, "text", 'eve ip=10.0.0.1 "x"')
    fields = shlex.split(line.split("  ", 1)[1])  # the fields, after the message
    assert fields == ['username=eve ip=10.0.0.1 "x"', "ip=192.0.2.9"]


def test_a_traceback_stays_indented_under_its_record(logged: io.StringIO) -> None:
    logsetup.setup("info", "text", logged)
    try:
        raise ValueError(f"bad name\n{FORGED}")
    except ValueError:
        logging.getLogger("wgpilot.test").exception("failed")
    first, *rest = logged.getvalue().splitlines()
    assert "failed" in first and rest
    assert all(line.startswith("    ") for line in rest), rest


def record_with(path: str, message: str) -> logging.LogRecord:
    try:
        raise OSError(36, "File name too long", message)
    except OSError:
        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "wgpilot.web.errors", logging.ERROR, __file__, 1, "unhandled error", (), exc_info
    )
    record.path = path
    record.method = "GET"
    return record


@pytest.mark.parametrize("formatter", [logsetup.JsonFormatter(), logsetup.TextFormatter()])
def test_a_huge_field_and_exception_message_make_a_bounded_record(formatter: logging.Formatter) -> None:
    # A 60 KB path in a field and in the exception message made 187 KB of log per request.
    huge = "/" + "a" * 60_000
    text = formatter.format(record_with(huge, huge))
    limit = logsetup.MAX_FIELD + logsetup.MAX_TRACE + 1000
    assert len(text) < limit
    assert "characters cut" in text and "OSError" in text and "File name too long" in text
    small = formatter.format(record_with("/index.html", "/index.html"))
    assert "characters cut" not in small and "/index.html" in small
