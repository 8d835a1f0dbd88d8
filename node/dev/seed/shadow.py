"""The shadow ledger the `dev seed` plan is made on, and the plan it records.

Rules:

- `ShadowLedger` is `contracts.testing.Ledger` (the contracts in memory) starting from the
  network's own genesis, signing with the same keys and using the wall clock as block time:
  every transaction is its own block, 10 ms after the previous one, exactly as the real network
  will date it. `at=` dates of the procedure helpers are event dates, never block time here.
- Every transaction the shadow executed is recorded as a `PlannedTx` under the phase, lane,
  label and `Intent` in force (`ShadowLedger.at`), with the shadow's receipt: the prediction the
  seed checks the real run against.
- `Plan.phases()` groups the recorded transactions by phase, then lane, in plan order; the seed
  runs phases one after another and the lanes of a phase concurrently.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from contracts.testing import Ledger
from wire.crypto import EncryptionKey, SigningKey
from wire.genesis import Genesis
from wire.types import Receipt, SignedTransaction, TxBody


@dataclass(frozen=True, slots=True)
class Intent:
    """What a fraud attempt should do: `REJECT` by `rule_id`, or FLAG `rule_id` in `colours`."""

    what: str  # a sentence for the summary
    rule_id: str
    outcome: str  # REJECT | FLAG
    colours: tuple[str, ...] = ()
    subject: str | None = None  # FLAG: a person key the alerts must name (None: any)

    def met(self, receipt: dict[str, Any], alerts: Sequence[dict[str, Any]]) -> bool:
        """Whether the transaction's receipt (REJECT) or the alerts on the ledger (FLAG: raised by
        the transaction or by the deadlines it set) show the intended outcome."""
        if self.outcome == "REJECT":
            return receipt.get("status") == "REJECTED" and receipt.get("rule_id") == self.rule_id
        if receipt.get("status") != "ACCEPTED":
            return False
        seen = {
            a["colour"]
            for a in alerts
            if a["rule_id"] == self.rule_id and (self.subject is None or self.subject in a["subject_keys"])
        }
        return set(self.colours) <= seen


@dataclass(frozen=True, slots=True)
class PlannedTx:
    phase: str
    lane: str
    label: str
    user: str  # "<org>/<role>": whose key signs
    tx_type: str
    org_id: str
    payload: dict[str, Any]
    approvers: tuple[str, ...]
    intent: Intent | None
    shadow: Receipt  # what the shadow ledger made of it

    @property
    def family(self) -> str:
        return self.tx_type.split(".")[0]


@dataclass
class Plan:
    today: date
    txs: list[PlannedTx] = field(default_factory=list)
    keys: dict[str, SigningKey] = field(default_factory=dict)  # users the seed registers
    enc_keys: dict[str, EncryptionKey] = field(default_factory=dict)  # orgs the seed creates
    shadow_alerts: list[dict[str, Any]] = field(default_factory=list)

    def phases(self) -> list[tuple[str, dict[str, list[PlannedTx]]]]:
        """[(phase, {lane: [txs in order]})] in plan order."""
        out: list[tuple[str, dict[str, list[PlannedTx]]]] = []
        for tx in self.txs:
            if not out or out[-1][0] != tx.phase:
                out.append((tx.phase, {}))
            out[-1][1].setdefault(tx.lane, []).append(tx)
        return out

    def intents(self) -> list[PlannedTx]:
        return [t for t in self.txs if t.intent is not None]


class ShadowLedger(Ledger):
    """contracts.testing's Ledger with the network's keys, wall-clock block time, and a record of
    every transaction it executed (grouped into phases and lanes)."""

    def __init__(self, genesis: Genesis, keys: dict[str, SigningKey], now_ms: int) -> None:
        super().__init__(genesis)
        self.keys = keys
        self.time_ms = max(now_ms, genesis.genesis_time_ms + 1)
        self.phase, self.lane, self.label = "", "", ""
        self.intent: Intent | None = None
        self.recorded: list[PlannedTx] = []

    def tx(
        self,
        user: str,
        tx_type: str,
        payload: Any,
        *,
        org_id: str | None = None,
        approvers: Sequence[str] = (),
        client_time_ms: int | None = None,
        chain_id: str | None = None,
        nonce: int | None = None,
        signer_key: SigningKey | None = None,
    ) -> SignedTransaction:
        self.nonce += 1
        sk = signer_key or self.keys[user]
        body = TxBody(
            chain_id=chain_id or self.genesis.chain_id,
            tx_type=tx_type,
            org_id=org_id or user.rsplit("/", 1)[0],
            signer=sk.public,
            nonce=self.nonce if nonce is None else nonce,
            client_time_ms=self.time_ms if client_time_ms is None else client_time_ms,
            payload=payload,
        )
        return SignedTransaction.create(body, sk.signer(), [self.keys[a].signer() for a in approvers])

    def submit(
        self, user: str, tx_type: str, payload: Any, *, at: str | int | None = None, **kw: Any
    ) -> Receipt:
        """Execute one transaction in its own block at the wall clock (`at`, an event date of
        the procedure helpers, is not block time here) and record it."""
        self.time_ms += 10
        approvers = tuple(kw.get("approvers", ()))
        tx = self.tx(user, tx_type, payload, **kw)
        receipt = self.block(tx, at=self.time_ms).receipts[0]
        self.recorded.append(
            PlannedTx(
                phase=self.phase,
                lane=self.lane,
                label=self.label or tx_type,
                user=user,
                tx_type=tx_type,
                org_id=tx.body.org_id,
                payload=payload,
                approvers=approvers,
                intent=self.intent,
                shadow=receipt,
            )
        )
        return receipt

    @contextmanager
    def at(self, phase: str, lane: str, label: str = "", intent: Intent | None = None) -> Iterator[None]:
        saved = (self.phase, self.lane, self.label, self.intent)
        self.phase, self.lane, self.label, self.intent = phase, lane, label, intent
        try:
            yield
        finally:
            self.phase, self.lane, self.label, self.intent = saved
