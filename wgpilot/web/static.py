"""The built web UI (wgpilot/web/dist, or the directory a frozen binary unpacked):
hashed assets are cached for a year, index.html never, and every other non-API
path falls back to index.html so the single-page app can route it. Paths are
resolved and must stay inside the asset directory. A path segment longer than any
file name (NAME_MAX, 255 bytes) names no file and no page of the app: 404."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from wgpilot.web.errors import error_response

DIST = Path(__file__).resolve().parent / "dist"
IMMUTABLE = "public, max-age=31536000, immutable"
NAME_MAX = 255  # bytes of one file name (Linux); the UI's own routes are far shorter


class StaticUI:
    def __init__(self, root: Path = DIST) -> None:
        self.root = root.resolve()

    @property
    def built(self) -> bool:
        return (self.root / "index.html").is_file()

    def _file(self, rel: str) -> Path | None:
        if "\0" in rel:
            return None
        try:
            candidate = (self.root / rel.lstrip("/")).resolve()
            if candidate != self.root and self.root not in candidate.parents:
                return None
            return candidate if candidate.is_file() else None
        except OSError:  # ENAMETOOLONG, ELOOP, EACCES: no file we serve
            return None

    async def __call__(self, request: Request) -> Response:
        path = request.path_params.get("path", "")
        if path.startswith("api/") or path == "api":
            return error_response(404, "NOT_FOUND", "no such API endpoint")
        if any(len(part.encode("utf-8", "surrogateescape")) > NAME_MAX for part in path.split("/")):
            return error_response(404, "NOT_FOUND", f"no such page (a path segment is over {NAME_MAX} bytes)")
        if not self.built:
            return error_response(
                503,
                "UI_NOT_BUILT",
                "the web UI is not built in this installation: run `npm ci && npm run build` in frontend/ "
                "(./dev serve does it for you); the API under /api works without it",
            )
        found = self._file(path) if path else None
        if found is not None and found.name != "index.html":
            cache = IMMUTABLE if path.startswith("assets/") else "no-cache"
            media = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
            return FileResponse(found, media_type=media, headers={"Cache-Control": cache})
        if path.startswith("assets/") or (found is None and "." in path.rsplit("/", 1)[-1]):
            return error_response(404, "NOT_FOUND", "no such file")
        return FileResponse(
            self.root / "index.html",
            media_type="text/html; charset=utf-8",
            headers={"Cache-Control": "no-cache"},
        )
