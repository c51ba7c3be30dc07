from __future__ import annotations

from wgpilot.sdnotify import Notifier


def test_watchdog_variables_in_other_digits_are_ignored() -> None:
    # "²" passed isdigit() and then made int() raise at start-up; "\u0663\u0660\u0660\u0660\u0660\u0660\u0660\u0660" was read as 30 s.
    for usec, pid in (("²", ""), ("\u0663\u0660\u0660\u0660\u0660\u0660\u0660\u0660", ""), ("30000000", "²")):
        n = Notifier({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": usec, "WATCHDOG_PID": pid})
        assert n.watchdog_seconds == 0.0
    assert Notifier({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "30000000"}).watchdog_seconds == 30.0
