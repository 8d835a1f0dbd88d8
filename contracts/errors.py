"""The one exception tree of the `contracts` package.

Rules:

- `ContractError` is the base of everything `contracts` raises on purpose.
- `TxRejected(code, message, rule_id="")` is the remote kind (h11's word): the transaction broke a
  rule or a precondition. The engine turns it into a REJECTED receipt; the block goes on. `check_tx`
  raises it for the mempool. `code` is a stable machine-readable reason code (snake_case).
- `InvariantError` is the local kind: the engine or the state broke its own contract (a state
  value that does not decode, a rule that returned a colour it does not own). It is never caught
  by the engine: every node hits it at the same transaction, so the chain halts loudly instead of
  diverging quietly.
- `GenesisStateError` is raised by `genesis_state` for a genesis the contracts cannot start from.
"""

from __future__ import annotations

from wire.errors import CodedError


class ContractError(CodedError):
    """Base of every error raised on purpose by the contracts package."""

    code = "contract_error"


class TxRejected(ContractError):
    """A transaction refused: `code` is the receipt's reason code, `rule_id` the DOMAIN rule (or "")."""

    code = "rejected"

    def __init__(self, code: str, message: str, *, rule_id: str = "") -> None:
        super().__init__(message, code=code)
        self.rule_id = rule_id


class InvariantError(ContractError):
    """The engine's own contract is broken (a bug or corrupt state): never caught, halts the chain."""

    code = "invariant"


class GenesisStateError(ContractError):
    """A genesis document the contracts cannot derive an initial state from."""

    code = "bad_genesis_state"


def invariant(cond: bool, message: str) -> None:
    """Raise InvariantError unless `cond` (asserts vanish under `python -O`; this does not)."""
    if not cond:
        raise InvariantError(message)
