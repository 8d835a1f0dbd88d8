"""The initial ledger state derived from the genesis document.

Rules:

- `meta/chain`: chain id, genesis hash and time, and the two consensus parameters the validator-set
  epochs are computed from (`checkpoint_interval`, `exec_lag`; `wire.epochs`).
- The node registry (`contracts.nodes`): one `node/<node_id>` and one `nodekey/<pubkey hex>`
  (`node_id`, `org_id`, `role`, `status` ACTIVE) per genesis node, and the first validator epoch
  `valset/epoch/000000000001` (the genesis validators in document order).
- One `org/<org_id>` record per genesis org (and its encryption key version 1), one
  `user/<pubkey hex>` and `userid/<user_id>` per genesis user (user ids unique).
- The rule configuration: `default_rule_config()` with the genesis `rule_config` merged over it.
  A key the defaults do not know, or a value whose type differs from the default's, or one a
  `config.set` would refuse (a choice not offered, a negative integer, an unknown rule, an engine
  key per org), is a GenesisStateError (a typo must not silently fall back to a default). Each key becomes
  `cfg/g/<key>`; `org_overrides` becomes `cfg/o/<org_id>/<key>` entries; `rule_modes` values must
  be ENFORCE, SHADOW or OFF.
- The result is sorted by key, ready for the node to write and hash.
"""

from __future__ import annotations

from typing import Any

from contracts import keys
from contracts.config import RULE_MODES, Config, default_rule_config
from contracts.errors import GenesisStateError, TxRejected
from contracts.governance import check_value
from contracts.nodes import genesis_records
from contracts.orgs import org_record, user_record
from contracts.state import encode_record
from wire.genesis import Genesis


def merged_rule_config(genesis: Genesis) -> dict[str, Any]:
    config = default_rule_config()
    for key in sorted(genesis.rule_config):
        value = genesis.rule_config[key]
        if key not in config:
            raise GenesisStateError(f"rule_config has an unknown key {key!r}")
        default = config[key]
        if type(value) is not type(default):
            raise GenesisStateError(f"rule_config {key!r} must be {type(default).__name__}")
        config[key] = value
    for rule_id in sorted(config["rule_modes"]):
        if config["rule_modes"][rule_id] not in RULE_MODES:
            raise GenesisStateError(f"rule_modes[{rule_id!r}] must be one of {', '.join(RULE_MODES)}")
    # the same checks as a config.set (choices, non-negative integers, known rules and keys), so no
    # value a rule cannot read ever reaches the state
    defaults = Config(values={k: v for k, v in config.items() if k != "org_overrides"})
    for key in sorted(config):
        if key not in ("version", "org_overrides"):
            _checked(defaults, key, config[key], None)
    overrides = config["org_overrides"]
    for org_id in sorted(overrides):
        if isinstance(overrides[org_id], dict):
            for key in sorted(overrides[org_id]):
                _checked(defaults, key, overrides[org_id][key], org_id)
    return config


def _checked(defaults: Config, key: str, value: Any, org_id: str | None) -> None:
    try:
        check_value(defaults, key, value, org_id)
    except TxRejected as exc:
        where = "rule_config" if org_id is None else f"org_overrides[{org_id!r}]"
        raise GenesisStateError(f"{where} {key!r}: {exc.message}") from exc


def genesis_state(genesis: Genesis) -> tuple[tuple[bytes, bytes], ...]:
    """The initial state entries, sorted by key."""
    entries: dict[str, dict[str, Any]] = {
        keys.meta_chain(): {
            "chain_id": genesis.chain_id,
            "genesis_hash": genesis.hash.hex(),
            "genesis_time_ms": genesis.genesis_time_ms,
            "checkpoint_interval": genesis.consensus.checkpoint_interval,
            "exec_lag": genesis.consensus.exec_lag,
        }
    }
    entries.update(genesis_records(genesis))
    for org in genesis.orgs:
        entries[keys.org(org.org_id)] = org_record(
            org_id=org.org_id,
            name=org.name,
            enc_pubkey=org.enc_pubkey.hex(),
            approval_authority=org.approval_authority,
            founded_date=org.founded_date,
            created_by="genesis",
            height=0,
        )
        entries[keys.org_enc_key(org.org_id, 1)] = {"enc_pubkey": org.enc_pubkey.hex(), "set_height": 0}
    for user in genesis.users:
        uid_key = keys.user_id(user.user_id)
        if uid_key in entries:
            raise GenesisStateError(f"user id {user.user_id} appears twice")
        entries[keys.user(user.pubkey.hex())] = user_record(
            user_id=user.user_id,
            org_id=user.org_id,
            pubkey=user.pubkey.hex(),
            roles=list(user.roles),
            height=0,
        )
        entries[uid_key] = {"user_id": user.user_id, "pubkey": user.pubkey.hex()}
    config = merged_rule_config(genesis)
    overrides = config.pop("org_overrides")
    for key in sorted(config):
        entries[keys.cfg_global(key)] = {"key": key, "value": config[key], "version": config["version"]}
    known = {o.org_id for o in genesis.orgs}
    for org_id in sorted(overrides):
        if org_id not in known or not isinstance(overrides[org_id], dict):
            raise GenesisStateError(f"org_overrides: {org_id!r} is not an organisation of genesis")
        for key in sorted(overrides[org_id]):
            if key not in config or key == "version":
                raise GenesisStateError(f"org_overrides[{org_id!r}] has an unknown key {key!r}")
            entries[keys.cfg_org(org_id, key)] = {
                "org_id": org_id,
                "key": key,
                "value": overrides[org_id][key],
            }
    return tuple((k.encode("utf-8"), encode_record(entries[k])) for k in sorted(entries))
