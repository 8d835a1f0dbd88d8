"""The node's HTTP API (FastAPI under uvicorn): `app.create_app`, the server with its connection
limits (`server.py`), the log limits (`logfilter.py`), the one error-to-status table
(`errors.py`), body readers (`body.py`), authentication, scoping and the admission budget
(`auth.py`, `ratelimit.py`), the context every route works with (`context.py`), renderings
(`render.py`, `models.py`, `params.py`), and one module per route group: `core` (health, metrics, status, submit),
`session` (tokens), `records`, `orgs`, `chain`, `proofs`, `events` (with `eventhub`).

May import: `wire`, `contracts` (state key helpers), `node.runtime`, `node.store`, `node.index`,
`node.errors`, `node.config`. Never privacy, the CLI or the dev tools (privacy mounts its own
routes, wired by `node/app.py`). Route modules do not use `from __future__ import annotations`:
FastAPI resolves each parameter's annotation when the route is defined, and the `Annotated`
aliases built inside `build_router` are locals.
"""
