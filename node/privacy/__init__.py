"""Data protection in the node (docs/privacy.md): person keys (`personkeys.py`), org key chains
with proofs and re-sealed data keys (`service.py`), the content-addressed blob store and its
replication (`blobs.py`), the access log (`accesslog.py`, the writer of `wire/accesslog.py`'s
format) with its recorder, attempt logger and anchoring loop (`recorder.py`), ID masking in every
log line (`logmask.py`), and their routes (`routes.py`, `blob_routes.py`).

May import: `wire`, `contracts` (state keys), `node.api` (its context, errors and authentication),
`node.store`, `node.errors`, `node.config`. Never the runtime directly (it gets callables from
`node/app.py`), the CLI or the dev tools.
"""
