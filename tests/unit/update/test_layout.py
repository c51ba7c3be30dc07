from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.tls.helpers import settings as tls_settings
from wgpilot.update import layout
from wgpilot.update.manifest import UpdateError

GH = "https://github.com/OWNER/wgpilot/releases"


def test_github_releases_paths_under_the_built_in_url(tmp_path: Path) -> None:
    s = tls_settings(tmp_path)
    assert layout.manifest_url(s, "stable", None, baked=GH) == f"{GH}/latest/download/manifest.json"
    assert layout.manifest_url(s, "stable", "1.2.3", baked=GH + "/") == f"{GH}/download/v1.2.3/manifest.json"
    latest = f"{GH}/latest/download/manifest.json"
    # the binary comes from the version's own directory, not from latest/ which may move on
    assert (
        layout.asset_url(s, latest, "1.2.3", "wgpilot_1.2.3_linux_amd64", baked=GH)
        == f"{GH}/download/v1.2.3/wgpilot_1.2.3_linux_amd64"
    )


def test_config_overrides(tmp_path: Path) -> None:
    mirror = "https://mirror.example/wgpilot"
    s = tls_settings(tmp_path, update__release_url=mirror)
    assert layout.manifest_url(s, "stable", None, baked=GH) == f"{mirror}/latest/download/manifest.json"
    assert (
        layout.manifest_url(s, "beta", "2.0.0-rc.1", baked=GH)
        == f"{mirror}/download/v2.0.0-rc.1/manifest.json"
    )
    s = s.replace(update__url="https://h.example/{channel}/manifest.json")
    assert layout.manifest_url(s, "beta", None, baked=GH) == "https://h.example/beta/manifest.json"
    assert layout.manifest_url(s, "beta", "2.0.0", baked=GH) == f"{mirror}/download/v2.0.0/manifest.json"
    # beside a manifest that update.url placed elsewhere
    assert layout.asset_url(s, "https://h.example/beta/manifest.json", "2.0.0", "wgpilot_x", baked=GH) == (
        "https://h.example/beta/wgpilot_x"
    )


def test_no_source(tmp_path: Path) -> None:
    s = tls_settings(tmp_path)
    assert layout.release_url(s) == ""  # a source run has no build info
    with pytest.raises(UpdateError, match=r"names no release URL and update\.release_url"):
        layout.manifest_url(s, "stable", None)
    assert layout.manifest_url(s.replace(update__url="http://h/m.json"), "stable", None) == "http://h/m.json"


def test_a_version_with_only_update_url_names_what_is_missing(tmp_path: Path) -> None:
    """update.url is set, so saying it is empty would be false: --version needs the release URL."""
    s = tls_settings(tmp_path, update__url="http://h/m.json")
    with pytest.raises(UpdateError) as err:
        layout.manifest_url(s, "stable", "1.0.0")
    assert err.value.message.startswith("--version needs update.release_url")
    assert "update.url only names the latest release's manifest" in err.value.message
    assert "is empty" not in err.value.message
