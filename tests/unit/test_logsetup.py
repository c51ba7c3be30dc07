"""A log record stays bounded whatever a request carried."""

from __future__ import annotations

import logging
import sys

import pytest

from wgpilot import logsetup


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
