"""The one exception tree of the `node` package.

Rules:

- Every exception the node raises on purpose derives from `NodeError` (itself a
  `wire.errors.CodedError`): a stable reason `code` and a human message, never an HTTP status.
  The API layer alone maps codes to statuses (`node/api/errors.py`).
- Storage errors are fatal by design (D1 in RELIABILITY.md): the node stops rather than sign or
  serve anything based on bad data.
- Classes live in the subpackage that raises them; this tree is the map:

    NodeError
    ├── ConfigError                 bad_config: node.toml, keys, secrets (node/config.py, app)
    ├── StorageError                storage_error: any block-store failure; fatal (node/store/)
    │   ├── StorageLockedError      storage_locked: another process holds the store
    │   ├── StorageCorruptError     storage_corrupt: what is stored does not decode or verify
    │   │   └── IntegrityError      the start-up check found a bad height (node/store/integrity.py)
    │   ├── StorageUnavailableError storage_unavailable: missing, read-only, permissions, disk full
    │   └── WrongChainError         wrong_chain: the store belongs to another genesis
    ├── AdmissionError              a transaction refused at admission; `code` is the reason
    │                               (node/runtime/txcheck.py, node/runtime/mempool.py)
    ├── NodeStoppedError            node_stopped: the node stopped after a fatal error
    ├── BusyError                   busy: retry shortly (too many streams or tokens, a cache full)
    ├── StateChangingError          state_changing: the state kept changing under a paged read
    ├── IndexUnavailableError       index_unavailable: the read index cannot answer (node/index/)
    ├── IndexInconsistentError      index_inconsistent: an index row disagrees with the state
    │                               (refused, repaired; node/api/context.py)
    ├── BlobCorruptError            blob_corrupt: a stored blob fails its hash (node/privacy/blobs.py)
    ├── ApiError                    a refusal of the API with its reason code (node/api/errors.py)
    └── DevError                    local-network tooling failed (node/dev/): NetInitError,
                                    TopologyError, DevnetError, SeedError
"""

from __future__ import annotations

from wire.errors import CodedError


class NodeError(CodedError):
    """Base of every error the node package raises on purpose."""

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


class AdmissionError(NodeError):
    """A transaction refused at admission; `code` is the reason (a schema code, `bad_signature`,
    `mempool_full`, ...)."""

    code = "rejected"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


class NodeStoppedError(NodeError):
    code = "node_stopped"


class BusyError(NodeError):
    """Not now: retry shortly."""

    code = "busy"


class StateChangingError(NodeError):
    """The state kept changing while a page of it was read: retry."""

    code = "state_changing"


class IndexUnavailableError(NodeError):
    """The read index cannot answer (not open yet, database down, another chain's index)."""

    code = "index_unavailable"


class IndexInconsistentError(NodeError):
    """Rows of the read index disagree with the ledger state: not served, being repaired."""

    code = "index_inconsistent"


class BlobCorruptError(NodeError):
    code = "blob_corrupt"


class DevError(NodeError):
    """Base of the local-network tooling's errors (node/dev/)."""

    code = "dev_error"
