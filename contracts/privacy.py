"""Data protection on the ledger (docs/privacy.md): the sealed-fields envelope, blob references,
re-sealing after an org key rotation, and the anchors of the nodes' access logs.

Rules:

- `SEALED` is the schema of an encrypted-fields envelope an SDK puts on a record payload
  (`archive.*`, `material.*`, `meeting.*`, `decision.*`: optional field `sealed`): format version,
  SecretBox nonce and ciphertext, and the data key sealed (SealedBox) to each listed org's X25519
  key version. The contracts store it with the record and never read it: no rule depends on it.
- `BLOB_REF` names a material's encrypted file in the blob store: SHA-256 and size of the
  ciphertext; `material.*` index it at `hash/b/<sha256>/doc:<doc_id>` so a node can tell which
  org may download it.
- `privacy.reseal`: after `org.set_enc_key`, an admin of the org (or of an ancestor) records the
  data keys of envelopes re-sealed to the org's current key: `seal/<envelope id>/<org>/<version>`
  (envelope id = SHA-256 of nonce || ciphertext). Earlier versions stay (the ledger keeps history).
  Nothing can be re-sealed without the data key, so the check is only about authority.
- `access.anchor`: signed by a genesis node key (and by nothing else; user keys cannot sign it,
  node keys can sign nothing else), acting for the node's org. It anchors one closed segment of the
  node's access log: segments are consecutive (`segment` = last + 1, `first_seq` = last seq + 1)
  and the hash chain continues (`prev_head` = the last anchored head), unless `restart` says the
  node lost its local log; a restart is recorded and counted. `access/<node_id>` is the head,
  `access/<node_id>/<segment>` each anchor.
"""

from __future__ import annotations

from typing import Any

from contracts import keys
from contracts.base import TxCtx, TxSpec
from contracts.config import Config
from contracts.errors import TxRejected
from contracts.identity import require_org, require_role, require_subtree
from contracts.schema import ID_PATTERN, ORG_PATTERN, Bool, Hex, Int, List, Obj, Str, opt, req
from contracts.state import View

ENVELOPE_VERSION = 1
SEALED_KEY_BYTES = 80  # SealedBox of a 32-byte key: ephemeral public key 32 + MAC 16 + 32
MAX_CT_HEX = 40_000
MAX_RECIPIENTS = 8
RESEAL_MAX_ITEMS = 128
ZERO_HASH = "0" * 64
_HEX_EVEN = r"^(?:[0-9a-f][0-9a-f])*$"

SEALED = Obj(
    (
        req("v", Int(ENVELOPE_VERSION, ENVELOPE_VERSION), "envelope format version"),
        req("nonce", Hex(24), "SecretBox nonce"),
        req("ct", Str(MAX_CT_HEX, min_len=32, pattern=_HEX_EVEN), "SecretBox ciphertext of the fields (hex)"),
        req(
            "keys",
            List(
                Obj(
                    (
                        req("org_id", Str(164, pattern=ORG_PATTERN)),
                        req("key_version", Int(1, 1_000_000)),
                        req("sealed", Hex(SEALED_KEY_BYTES), "the data key sealed to that org key"),
                    )
                ),
                MAX_RECIPIENTS,
                min_len=1,
                unique=True,
            ),
            "the owning org and every ancestor",
        ),
    )
)
SEALED_DOC = "encrypted personal fields (docs/privacy.md); stored, never read by the rules"

BLOB_REF = Obj(
    (
        req("hash", Hex(32), "SHA-256 of the encrypted file in the blob store"),
        req("size", Int(1, 2**40), "bytes of the encrypted file"),
    )
)


def sealed_field() -> Any:
    return opt("sealed", SEALED, SEALED_DOC)


# ------------------------------------------------------------------------------------ reseal
PRIVACY_RESEAL = Obj(
    (
        req("org_id", Str(164, pattern=ORG_PATTERN), "the org whose new key the data keys are sealed to"),
        req("key_version", Int(1, 1_000_000), "its current enc_key_version"),
        req(
            "items",
            List(
                Obj(
                    (req("envelope", Hex(32), "SHA-256 of nonce || ct"), req("sealed", Hex(SEALED_KEY_BYTES)))
                ),
                RESEAL_MAX_ITEMS,
                min_len=1,
                unique=True,
            ),
        ),
    )
)


def _check_reseal(view: View, tx: TxCtx, config: Config) -> None:
    require_role(view, tx, ("admin",))
    p = tx.payload
    require_subtree(tx, p["org_id"])
    org = require_org(view, p["org_id"])
    if p["key_version"] != org["enc_key_version"]:
        raise TxRejected(
            "stale_key_version",
            f"{p['org_id']} is at key version {org['enc_key_version']}, not {p['key_version']}",
        )
    envelopes = [i["envelope"] for i in p["items"]]
    if len(set(envelopes)) != len(envelopes):
        raise TxRejected("duplicate_item", "each envelope is re-sealed once per transaction")


def _apply_reseal(view: View, tx: TxCtx, config: Config) -> None:
    p = tx.payload
    for item in p["items"]:
        view.put(
            keys.seal(item["envelope"], p["org_id"], p["key_version"]),
            {
                "envelope": item["envelope"],
                "org_id": p["org_id"],
                "key_version": p["key_version"],
                "sealed": item["sealed"],
                "tx_id": tx.tx_hex,
                "height": tx.height,
            },
        )


# ------------------------------------------------------------------------------- access anchors
ACCESS_ANCHOR = Obj(
    (
        req("node_id", Str(64, pattern=ID_PATTERN), "the anchoring node (its genesis key signs)"),
        req("segment", Int(1, 2**40), "segment number, consecutive per node"),
        req("first_seq", Int(1, 2**62), "sequence number of the segment's first line"),
        req("last_seq", Int(1, 2**62), "sequence number of its last line"),
        req("prev_head", Hex(32), "the chain hash the segment continues (zeros for the first)"),
        req("head_hash", Hex(32), "chain hash of the segment's last line"),
        req("file_hash", Hex(32), "SHA-256 of the segment file's bytes"),
        req("closed_at_ms", Int(0, 2**62), "when the node closed the segment (its clock)"),
        opt("restart", Bool(), "the node lost its local log: a new chain starts here", default=False),
    )
)


def _check_anchor(view: View, tx: TxCtx, config: Config) -> None:
    p = tx.payload
    node = view.get(keys.node_key(tx.signer.hex()))
    if node is None or node["node_id"] != p["node_id"]:
        raise TxRejected("wrong_node", f"the signer is not the genesis key of node {p['node_id']}")
    if p["last_seq"] < p["first_seq"]:
        raise TxRejected("bad_value", "last_seq precedes first_seq")
    head = view.get(keys.access_head(p["node_id"]))
    want_segment = 1 if head is None else head["segment"] + 1
    want_seq = 1 if head is None else head["last_seq"] + 1
    if p["segment"] != want_segment or p["first_seq"] != want_seq:
        raise TxRejected(
            "anchor_out_of_order",
            f"node {p['node_id']}: the next anchor is segment {want_segment} from seq {want_seq}",
        )
    prev = ZERO_HASH if head is None else head["head_hash"]
    if p["restart"]:
        if p["prev_head"] != ZERO_HASH:
            raise TxRejected("bad_value", "a restarted chain starts from the zero hash")
    elif p["prev_head"] != prev:
        raise TxRejected("anchor_chain_break", "prev_head is not the head of the last anchored segment")


def _apply_anchor(view: View, tx: TxCtx, config: Config) -> None:
    p = tx.payload
    head = view.get(keys.access_head(p["node_id"]))
    restarts = (0 if head is None else int(head["restarts"])) + (1 if p["restart"] else 0)
    rec = {**p, "tx_id": tx.tx_hex, "height": tx.height, "time_ms": tx.time_ms, "org_id": tx.org_id}
    view.put(keys.access_anchor(p["node_id"], p["segment"]), rec)
    view.put(
        keys.access_head(p["node_id"]),
        {
            "node_id": p["node_id"],
            "segment": p["segment"],
            "last_seq": p["last_seq"],
            "head_hash": p["head_hash"],
            "restarts": restarts,
            "tx_id": tx.tx_hex,
            "height": tx.height,
        },
    )


TX_SPECS: tuple[TxSpec, ...] = (
    TxSpec(
        name="privacy.reseal",
        family="privacy",
        description="Record data keys re-sealed to an org's current encryption key (after org.set_enc_key).",
        signers="an admin of the org or of an ancestor",
        schema=PRIVACY_RESEAL,
        check=_check_reseal,
        apply=_apply_reseal,
    ),
    TxSpec(
        name="access.anchor",
        family="privacy",
        description="Anchor the hash of a closed access-log segment of a node.",
        signers="the node's genesis key (node keys sign nothing else)",
        schema=ACCESS_ANCHOR,
        check=_check_anchor,
        apply=_apply_anchor,
        signed_by="node",
    ),
)
