"""The deterministic rule contracts: record families, the organisation tree and identities, the
rules of DOMAIN.md, alerts, deadlines and rule configuration. Pure: block time is the only clock;
imports nothing of the project but `wire` (tests/unit/test_layering.py).

The interface the node, the auditor and the read index call:

    class StateReader(Protocol):
        def get(self, key: bytes) -> bytes | None: ...
        def scan(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, bytes]]: ...  # [start, end), ascending

    @dataclass(frozen=True, slots=True, kw_only=True)
    class BlockContext:
        chain_id: str
        height: int
        time_ms: int      # block timestamp agreed by consensus: the ONLY clock

    @dataclass(frozen=True, slots=True, kw_only=True)
    class BlockOutcome:
        writes: tuple[tuple[bytes, bytes | None], ...]   # final value per key touched (None = delete), sorted
        receipts: tuple[Receipt, ...]                      # one per transaction, in block order

    execute_block(state, ctx, txs) -> BlockOutcome
    run_block(state, chain_id, block) -> BlockResult   # a whole block: strict decode, then execute_block
    genesis_state(genesis) -> tuple[tuple[bytes, bytes], ...]   # initial state entries, sorted
    check_tx(tx) -> None    # stateless mempool check; raises contracts.errors.TxRejected(code, message)

Preconditions: the caller verified the main and every approval signature (`tx.signature_ok()`).
The engine checks everything else (chain id, replay, stale client time, signer key registered,
live and of the transaction's org, approval keys live, roles, payload schema, DOMAIN rules).

Contracts of the outcome:

- `writes` are the block's state changes; the caller applies them atomically and feeds them to
  `wire.statehash.StateHash` for the state root; `wire.types.results_root(receipts)` is the
  results root. Values are `wire.codec.encode` of str-keyed dicts (render them as JSON).
- Every transaction gets a receipt, accepted or rejected (with `rule_id` when a DOMAIN rule
  refused it, and a `reason_code`); a rejected one changes no state except its replay marker
  `tx/<tx id hex>`. `receipt.writes` lists the record keys the transaction wrote (without the
  marker); `receipt.alerts` the alerts it raised.
- Deadlines fire at the start of the first block whose time passes them (`due/...` keys); their
  alerts appear in `writes` only (no transaction, so no receipt).
- Same blocks in, same writes and receipts out, on every machine and PYTHONHASHSEED.

Introspection: `TX_TYPES` (tx type -> spec with payload schema; `tx_types_json()`),
`contracts.rules.registry()` (every rule with id, colours, disposition, description).
The state key layout is documented in docs/contracts.md and built by `contracts.keys`.
"""

from contracts.base import BlockContext, BlockOutcome
from contracts.bootstrap import genesis_state
from contracts.engine import check_tx, execute_block
from contracts.errors import ContractError, TxRejected
from contracts.execution import BlockResult, run_block
from contracts.rules import registry
from contracts.state import StateReader
from contracts.txtypes import TX_TYPES, tx_types_json

__all__ = [
    "TX_TYPES",
    "BlockContext",
    "BlockOutcome",
    "BlockResult",
    "ContractError",
    "StateReader",
    "TxRejected",
    "check_tx",
    "execute_block",
    "genesis_state",
    "registry",
    "run_block",
    "tx_types_json",
]
