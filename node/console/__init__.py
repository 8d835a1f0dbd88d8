"""The console every node serves at `/console/` (issue 21; docs/console.md).

Rules:

- Everything the page loads comes from this node: the built assets in `node/console/static/`
  (package data, built from `console/` by `make console`; a test checks they are up to date),
  the message catalogue (`contracts/messages.py`) as `/console/messages.json` and the node's
  genesis as `/console/genesis.json` (what the page checks certificates against unless the user
  loads a genesis file of their own). No CDN, no font or script from elsewhere: the Content
  Security Policy allows this origin only, so an intranet without internet works.
- The page authenticates every API call itself (a key file kept in page memory, requests signed
  as `wire/reqsign.py` says, or a bearer token from `orgledger api token`); these routes need no
  authentication because they hold nothing secret. A token in the link's fragment
  (`/console/#token=...`) never reaches the node: browsers do not send fragments.
- The page shows 已验证 only for what it verified itself (console/src/verify.js).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from contracts.messages import catalogue
from wire.genesis import Genesis

STATIC = Path(str(resources.files("node.console") / "static"))
ASSETS = ("app.js", "app.css")
# the page's own origin only; Chart.js sets canvas sizes through the CSSOM (allowed by style-src 'self')
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
MEDIA = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def build_router(genesis: Genesis) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    messages = catalogue("zh")
    genesis_doc = genesis.to_json()

    @router.get("/console")
    async def console_bare() -> Response:
        return RedirectResponse("/console/", status_code=308)

    @router.get("/console/")
    async def console_page() -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8", headers=HEADERS)

    @router.get("/console/assets/{name}")
    async def console_asset(name: str) -> Response:
        if name not in ASSETS:
            return JSONResponse(
                {"error": {"code": "not_found", "message": f"no console asset {name[:64]!r}"}},
                status_code=404,
            )
        path = STATIC / name
        return FileResponse(path, media_type=MEDIA[path.suffix], headers=HEADERS)

    @router.get("/console/messages.json")
    async def console_messages() -> Response:
        return JSONResponse(messages, headers=HEADERS)

    @router.get("/console/genesis.json")
    async def console_genesis() -> Response:
        return JSONResponse(genesis_doc, headers=HEADERS)

    return router
