"""Collect what ``import wgpilot`` cannot show PyInstaller: the SQL migrations and the
built UI (read as files at run time), modules imported by name (uvicorn's protocol and
loop implementations), and the generated build info."""

from __future__ import annotations

from PyInstaller.utils.hooks import collect_data_files, collect_submodules

datas = collect_data_files("wgpilot", includes=["storage/migrations/*.sql", "web/dist/**/*"])
hiddenimports = [m for m in collect_submodules("wgpilot") if not m.startswith("wgpilot._pyinstaller")]
# uvicorn picks its HTTP protocol, lifespan and loop classes from strings at run time
hiddenimports += [
    "uvicorn.protocols.http.h11_impl",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.protocols.websockets.auto",
    "uvicorn.lifespan.on",
    "uvicorn.lifespan.off",
    "uvicorn.loops.asyncio",
    "uvicorn.loops.auto",
]
