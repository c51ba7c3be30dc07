"""Version, commit and build date. A frozen build writes ``_build_info.py`` beside this
module at build time; a source checkout reads the commit from .git (no git process)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from wgpilot import __version__


def _git_commit(root: Path) -> str:
    git = root / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head[:12]
        ref = head[5:]
        ref_file = git / ref
        if ref_file.exists():
            return ref_file.read_text().strip()[:12]
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0][:12]
    except OSError:
        pass
    return "unknown"


@lru_cache(maxsize=1)
def info() -> dict[str, str]:
    try:
        from wgpilot import _build_info  # type: ignore[attr-defined]

        return {"version": _build_info.VERSION, "commit": _build_info.COMMIT, "date": _build_info.DATE}
    except ImportError:
        pass
    return {
        "version": __version__,
        "commit": _git_commit(Path(__file__).resolve().parent.parent),
        "date": "source",
    }
