from __future__ import annotations

from pathlib import Path

import pytest

from wgpilot import config


def test_precedence_file_env_flags(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('driver = "userspace"\n[log]\nlevel = "debug"\n[monitor]\npoll_interval = 3\n')
    s = config.load(f, env={})
    assert (s["driver"], s["log.level"], s["monitor.poll_interval"]) == ("userspace", "debug", 3.0)
    s = config.load(f, env={"WGPILOT_LOG_LEVEL": "error", "WGPILOT_MONITOR_POLL_INTERVAL": "7"})
    assert (s["log.level"], s["monitor.poll_interval"]) == ("error", 7.0)
    s = config.load(f, flags={"log.level": "warning", "driver": None}, env={"WGPILOT_LOG_LEVEL": "error"})
    assert (s["log.level"], s["driver"]) == ("warning", "userspace")


def test_settings_know_which_keys_were_given(tmp_path: Path) -> None:
    """The CLI searches for a server only when no data directory was given anywhere."""
    f = tmp_path / "c.toml"
    f.write_text('driver = "userspace"\n')
    assert "data_dir" not in config.load(None, env={}).explicit
    s = config.load(f, env={"WGPILOT_LOG_LEVEL": "debug"}, flags={"data_dir": None})
    assert s.explicit == {"driver", "log.level"}
    assert "data_dir" in config.load(None, env={"WGPILOT_DATA_DIR": str(tmp_path)}).explicit
    assert "data_dir" in config.load(None, env={}, flags={"data_dir": str(tmp_path)}).explicit
    f.write_text(f'data_dir = "{tmp_path}"\n')
    assert "data_dir" in config.load(f, env={}).explicit
    assert "listen" in config.load(None, env={}).replace(listen=":8443").explicit


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ('listen = "nope"', {}, "listen = 'nope'"),
        ("[auth]\nbcrypt_cost = 40", {}, "auth.bcrypt_cost = 40"),
        ('[auth]\nsession_ttl = "1d"', {}, "must be an integer"),
        ('[tls]\nmode = "manual"', {}, "needs tls.cert_file"),
        ("", {"WGPILOT_MONITOR_POLL_INTERVAL": "fast"}, "environment WGPILOT_MONITOR_POLL_INTERVAL"),
        ("x = 1", {}, "unknown key 'x'"),
        ("[log", {}, "not valid TOML"),
    ],
)
def test_errors_name_key_value_and_source(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    f = tmp_path / "c.toml"
    f.write_text(text)
    with pytest.raises(config.ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config.load(f, env=env)


def test_listen_takes_port_0_for_any_free_port() -> None:
    """Tests start servers on port 0 and read the bound port from the log; a port
    picked free and bound later can be taken in between."""
    assert config.load(None, env={"WGPILOT_LISTEN": "127.0.0.1:0"})["listen"] == "127.0.0.1:0"
    for bad in ("127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:"):
        with pytest.raises(config.ConfigError, match="must look like HOST:PORT"):
            config.load(None, env={"WGPILOT_LISTEN": bad})


def test_every_option_is_in_the_default_file_and_the_docs() -> None:
    text = config.default_toml()
    readme = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    for opt in config.OPTIONS:
        name = opt.key.rpartition(".")[2]
        assert f"# {name} = " in text
        assert f"`{opt.key}`" in readme, f"docs/configuration.md does not document {opt.key}"
        assert f"`{opt.env}`" in readme, f"docs/configuration.md does not name {opt.env}"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("WGPILOT_RECONCILE_INTERVAL", "\u0663\u0660"),  # int() reads 30
        ("WGPILOT_RECONCILE_INTERVAL", "²"),  # isdigit() is True, int() raises
        ("WGPILOT_RECONCILE_INTERVAL", "3_0"),
        ("WGPILOT_MONITOR_POLL_INTERVAL", "\u0665"),
        ("WGPILOT_MONITOR_POLL_INTERVAL", "nan"),
        ("WGPILOT_MONITOR_POLL_INTERVAL", "inf"),
        ("WGPILOT_MONITOR_POLL_INTERVAL", "1e999"),
        ("WGPILOT_LISTEN", ":\uff18\uff14\uff14\uff13"),
        ("WGPILOT_LISTEN", "127.0.0.1:²"),
    ],
)
def test_numbers_are_ascii_digits_and_finite(key: str, value: str) -> None:
    with pytest.raises(config.ConfigError, match=f"environment {key}"):
        config.load(None, env={key: value})


def test_plain_numbers_still_read(tmp_path: Path) -> None:
    env = {
        "WGPILOT_RECONCILE_INTERVAL": " 45 ",
        "WGPILOT_MONITOR_POLL_INTERVAL": "2.5",
        "WGPILOT_LISTEN": ":8443",
    }
    s = config.load(None, env=env)
    assert (s["reconcile_interval"], s["monitor.poll_interval"], s["listen"]) == (45, 2.5, ":8443")
    f = tmp_path / "c.toml"
    f.write_text("[monitor]\npoll_interval = inf\n")
    with pytest.raises(config.ConfigError, match="finite"):
        config.load(f, env={})
