"""The one exception tree of the `node` package.

`NodeError` is the base; each has a stable `code`. Storage errors are fatal by design (D1 in
RELIABILITY.md): the node stops rather than sign or serve anything based on bad data.
"""

from __future__ import annotations


class NodeError(Exception):
    code = "node_error"


class ConfigError(NodeError):
    code = "bad_config"


class StorageError(NodeError):
    """Any failure of the block store. Fatal: the node stops."""

    code = "storage_error"


class StorageLockedError(StorageError):
    code = "storage_locked"


class StorageCorruptError(StorageError):
    code = "storage_corrupt"


class StorageUnavailableError(StorageError):
    """The directory cannot be opened or written (missing, read-only, permissions, disk full)."""

    code = "storage_unavailable"


class WrongChainError(StorageError):
    code = "wrong_chain"
