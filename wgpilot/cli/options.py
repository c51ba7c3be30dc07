"""Options every command shares: --config, --data-dir, --driver."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from wgpilot import config as config_mod
from wgpilot import logsetup
from wgpilot.cli.output import EXIT_INPUT, fail


def settings_from(params: dict[str, Any], **flags: Any) -> config_mod.Settings:
    try:
        return config_mod.load(
            params.pop("config", None),
            flags={"data_dir": params.pop("data_dir", None), **flags},
        )
    except config_mod.ConfigError as exc:
        fail(str(exc), EXIT_INPUT)


def common(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--config and --data-dir on every command; passes ``settings``."""

    @click.option(
        "--config",
        "config",
        type=click.Path(dir_okay=False),
        envvar=None,
        help="config file (default /etc/wgpilot/config.toml if present)",
    )
    @click.option(
        "--data-dir",
        "data_dir",
        type=click.Path(file_okay=False),
        help="data directory (default /var/lib/wgpilot)",
    )
    @functools.wraps(fn)
    def wrapper(**params: Any) -> Any:
        driver = params.pop("driver", None)
        settings = settings_from(params, driver=driver)
        logsetup.setup(
            level="warning" if settings["log.level"] == "info" else settings["log.level"], fmt="text"
        )
        return fn(settings=settings, **params)

    return wrapper


def driver_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--driver",
        type=click.Choice(["auto", "netlink", "userspace", "none"]),
        help="WireGuard driver (default: auto)",
    )(fn)
