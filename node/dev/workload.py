"""A realistic workload of valid signed domain transactions, for `dev load`, the benchmark and the
fault tests.

Rules: every transaction is valid when submitted against the genesis state of a network made by
`network init` (signed by the org admins from `keys/admins/`), independent of the others, so any
subset commits in any order; each is unique (random ids and nonces from a seeded generator),
and the mix is stated (`MIX`). Dates are the CST date of `now_ms` so no deadline rule flags them.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from client_sdk.client import build_tx
from wire.crypto import Signer, SigningKey
from wire.files import load_signing_key
from wire.genesis import Genesis
from wire.types import SignedTransaction

CST = timedelta(hours=8)
MIX: tuple[tuple[str, int], ...] = (
    ("archive.create", 35),
    ("material.register", 30),
    ("meeting.record", 20),
    ("decision.record", 10),
    ("user.register", 5),
)


class Workload:
    def __init__(self, genesis: Genesis, network_dir: Path, *, seed: int = 1) -> None:
        self.genesis = genesis
        self._rnd = random.Random(seed)
        self._admins: dict[str, Signer] = {}
        for org in genesis.orgs:
            path = network_dir / "keys" / "admins" / f"{org.org_id}.key"
            if path.exists():
                self._admins[org.org_id] = load_signing_key(path).signer()
        self._branches = sorted(
            o.org_id for o in genesis.orgs if o.level == "BRANCH" and o.org_id in self._admins
        )
        if not self._branches:
            raise ValueError("the network has no branch with an admin key")
        kinds, weights = zip(*MIX, strict=True)
        self._kinds, self._weights = list(kinds), list(weights)
        self._makers: dict[str, Callable[[str, int], tuple[str, dict[str, Any]]]] = {
            "archive.create": self._archive,
            "material.register": self._material,
            "meeting.record": self._meeting,
            "decision.record": self._decision,
            "user.register": self._user,
        }

    def _hex(self, n: int = 32) -> str:
        return self._rnd.getrandbits(8 * n).to_bytes(n, "big").hex()

    def _id(self, prefix: str) -> str:
        return f"{prefix}-{self._rnd.getrandbits(64):016x}"

    def next_tx(self, now_ms: int) -> SignedTransaction:
        kind = self._rnd.choices(self._kinds, self._weights)[0]
        branch = self._rnd.choice(self._branches)
        org_id, payload = self._makers[kind](branch, now_ms)
        return build_tx(
            chain_id=self.genesis.chain_id,
            tx_type=kind,
            org_id=org_id,
            payload=payload,
            key=self._admins[org_id],
            nonce=self._rnd.getrandbits(63),
            client_time_ms=now_ms,
        )

    @staticmethod
    def _date(now_ms: int, days_back: int = 0) -> str:
        return (
            (datetime.fromtimestamp(now_ms / 1000, UTC) + CST - timedelta(days=days_back)).date().isoformat()
        )

    def _archive(self, branch: str, now_ms: int) -> tuple[str, dict[str, Any]]:
        year = self._rnd.randint(1960, 2000)
        return branch, {
            "person_key": self._hex(),
            "key_version": 1,
            "id_check_ok": True,
            "birth_date": f"{year}-{self._rnd.randint(1, 12):02d}-{self._rnd.randint(1, 28):02d}",
            "gender": self._rnd.choice(["MALE", "FEMALE"]),
        }

    def _material(self, branch: str, now_ms: int) -> tuple[str, dict[str, Any]]:
        return branch, {
            "doc_id": self._id(f"{branch}/other"),
            "doc_version": 1,
            "doc_type": "OTHER",
            "subject_keys": [],
            "content_hash": self._hex(),
            "doc_date": self._date(now_ms, 1),
            "issuer_org_id": branch,
        }

    def _meeting(self, branch: str, now_ms: int) -> tuple[str, dict[str, Any]]:
        start = now_ms - 3 * 3600_000 - self._rnd.randint(0, 3600_000)
        return branch, {
            "meeting_id": self._id("mtg"),
            "meeting_type": "THEME_DAY",
            "start": start,
            "end": start + 3600_000,
            "location_code": "ROOM-1",
            "minutes_content_hash": self._hex(),
            "minutes_text_hash": self._hex(),
        }

    def _decision(self, branch: str, now_ms: int) -> tuple[str, dict[str, Any]]:
        return branch, {
            "decision_id": self._id("dec"),
            "decision_body": "BRANCH_COMMITTEE",
            "decision_mode": "MEETING",
            "category": "OTHER",
            "item_seq": 1,
            "amount_fen": self._rnd.randint(100, 100_000),
            "result": "PASSED",
            "effective_date": self._date(now_ms),
        }

    def _user(self, branch: str, now_ms: int) -> tuple[str, dict[str, Any]]:
        pub = SigningKey(hashlib.sha256(self._hex().encode()).digest()).public
        return branch, {
            "user_id": self._id("user"),
            "org_id": branch,
            "pubkey": pub.hex(),
            "roles": ["operator"],
        }
