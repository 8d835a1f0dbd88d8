"""The auditor: verifies a chain from genesis without trusting any node, and its imports show it.

`verify.py` (entry points `audit_node`, `audit_archive`, `prove_tx` and exit codes), `engine.py`
(the block-by-block loop and its worker pool), `checks.py` (pure checks of one block),
`replay.py` (in-memory replay through `contracts.run_block`), `segments.py` (an archive's
segments replayed in parallel processes from its checked snapshots), `sources.py` (a node or an
archive as the source), `archive.py` (reading a node over HTTP, the export archive format), `report.py`,
`access.py` (the access-log audit), `errors.py` (the AuditError tree).

May import: `wire`, `consensus`, `contracts`, `client_sdk`. Never `node` (tests/unit/test_layering.py).
"""
