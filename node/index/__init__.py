"""The read index: a projection of ledger state into SQL (SQLite by default, PostgreSQL by URL)
for the read API's list, filter and history queries. Never the source of truth: it follows the
block store on its own thread (`worker.Indexer`) and can always be rebuilt from it
(`orgledger index rebuild`). See db.py, project.py and queries.py for the rules."""

from node.errors import IndexUnavailableError
from node.index.db import IndexDb, default_url, redact
from node.index.worker import Indexer, rebuild_from_store

__all__ = ["IndexDb", "IndexUnavailableError", "Indexer", "default_url", "rebuild_from_store", "redact"]
