"""Where releases live: GitHub Releases' URL layout, under one release URL.

    <release_url>/latest/download/<asset>        the newest stable release
    <release_url>/download/v<version>/<asset>    one version (tag v<version>)

e.g. ``release_url = https://github.com/OWNER/wgpilot/releases``. ``release.py build
--release-url`` bakes it into the binary (``wgpilot/_build_info.py``) and into the
release's ``install.sh``, and writes its ``dist/`` in this very layout, so any static
HTTP server publishing ``dist/`` as it is serves the same paths. ``update.release_url``
in the config overrides the baked one (a mirror); ``update.url`` overrides only the
latest manifest's URL (other hosts' layouts, channels). Pure, apart from reading the
build info.
"""

from __future__ import annotations

import urllib.parse

from wgpilot.config import Settings
from wgpilot.update.manifest import UpdateError

LATEST = "latest/download"
MANIFEST = "manifest.json"


def version_dir(version: str) -> str:
    """The path of one version under the release URL (GitHub's tag ``v<version>``)."""
    return f"download/v{urllib.parse.quote(version)}"


def built_in() -> str:
    """The release URL this binary was built with; "" for a source run or a plain build."""
    try:
        from wgpilot import _build_info  # type: ignore[attr-defined]
    except ImportError:
        return ""
    return str(getattr(_build_info, "RELEASE_URL", ""))


def release_url(settings: Settings, baked: str | None = None) -> str:
    """``update.release_url``, else the built-in one; never with a trailing slash."""
    url: str = settings["update.release_url"] or (built_in() if baked is None else baked)
    return url.rstrip("/")


def manifest_url(settings: Settings, channel: str, version: str | None, baked: str | None = None) -> str:
    """The manifest to read: ``update.url`` (``{channel}`` replaced) or the latest one
    under the release URL; ``version`` always under the release URL."""
    root = release_url(settings, baked)
    if version is None and settings["update.url"]:
        return str(settings["update.url"]).replace("{channel}", channel)
    if not root and version is not None and settings["update.url"]:
        raise UpdateError(
            "--version needs update.release_url: this build names no release URL, and "
            "update.url only names the latest release's manifest"
        )
    if not root:
        raise UpdateError(
            "no update source: this build names no release URL and update.release_url "
            "(or update.url) is empty"
        )
    where = LATEST if version is None else version_dir(version)
    return f"{root}/{where}/{MANIFEST}"


def asset_url(
    settings: Settings, manifest_at: str, version: str, filename: str, baked: str | None = None
) -> str:
    """Beside the manifest, except for the latest one: then in the version's own directory,
    since ``latest/`` may move on to a newer release between the two downloads."""
    root = release_url(settings, baked)
    if root and manifest_at == f"{root}/{LATEST}/{MANIFEST}":
        manifest_at = f"{root}/{version_dir(version)}/{MANIFEST}"
    return urllib.parse.urljoin(manifest_at, urllib.parse.quote(filename))
