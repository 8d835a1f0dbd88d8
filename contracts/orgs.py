"""Organisation and identity governance transactions.

Rules:

- `org.create`: signed by an `admin` of the parent org (the transaction's org). The new org's
  level follows its path depth (CENTRAL..BRANCH, no level skipped); `approval_authority` defaults
  to "level == cfg approval_authority_level" (COUNTY).
- `org.set_enc_key`: an `admin` of the org or an ancestor sets the org's X25519 public key; every
  key version is kept (`org/<id>/enc/<version>`).
- `org.set_post`: an `operator`/`admin` of the org or an ancestor records who holds a post
  (secretary, committee member, organiser...) from a date; MAT-06 checks signatures against it.
- `user.register` / `user.grant_role` / `user.revoke_role` / `user.rotate_key` / `user.revoke`:
  an `admin` of the user's org or of an ancestor. A rotated or revoked key is never live again; a
  rotation carries user id, org and roles over to the new key. Public keys and user ids are unique
  for ever (a revoked key cannot be registered again).
"""

from __future__ import annotations

from typing import Any

from contracts import keys
from contracts.base import TxCtx, TxSpec
from contracts.config import Config
from contracts.errors import TxRejected
from contracts.identity import get_org, get_user, require_org, require_role, require_subtree
from contracts.schema import ID_PATTERN, ORG_PATTERN, Bool, Date, Enum, Hex, List, Obj, Str, opt, req
from contracts.state import View
from wire.genesis import LEVELS, ROLES, org_depth, org_parent

POSTS = ("SECRETARY", "DEPUTY_SECRETARY", "COMMITTEE_MEMBER", "ORGANISER", "GROUP_LEADER")


def org_record(
    *,
    org_id: str,
    name: str,
    enc_pubkey: str,
    approval_authority: bool,
    founded_date: str,
    created_by: str,
    height: int,
) -> dict[str, Any]:
    return {
        "org_id": org_id,
        "level": LEVELS[org_depth(org_id) - 1],
        "parent": org_parent(org_id),
        "name": name,
        "enc_pubkey": enc_pubkey,
        "enc_key_version": 1,
        "approval_authority": approval_authority,
        "founded_date": founded_date,
        "dissolved_date": None,
        "created_by": created_by,
        "created_height": height,
    }


def user_record(
    *, user_id: str, org_id: str, pubkey: str, roles: list[str], height: int, rotated_from: str | None = None
) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "org_id": org_id,
        "pubkey": pubkey,
        "roles": sorted(roles),
        "status": "ACTIVE",
        "registered_height": height,
        "rotated_from": rotated_from,
        "rotated_to": None,
        "revoked_height": None,
        "revoke_reason": None,
    }


# ------------------------------------------------------------------------------------------ org.*
ORG_CREATE = Obj(
    (
        req("org_id", Str(164, pattern=ORG_PATTERN), "the new org's path; its parent is the tx org"),
        req("name", Str(256)),
        req("enc_pubkey", Hex(32), "X25519 public key"),
        opt("approval_authority", Bool(), "default: level == approval_authority_level"),
        req("founded_date", Date()),
    )
)


def _check_org_create(view: View, tx: TxCtx, config: Config) -> None:
    require_role(view, tx, ("admin",))
    p = tx.payload
    if org_parent(p["org_id"]) != tx.org_id:
        raise TxRejected("wrong_parent", f"{p['org_id']} is not a child of {tx.org_id}")
    if org_depth(p["org_id"]) > len(LEVELS):
        raise TxRejected("too_deep", f"the tree has {len(LEVELS)} levels")
    if get_org(view, p["org_id"]) is not None:
        raise TxRejected("org_exists", f"organisation {p['org_id']} already exists")


def _apply_org_create(view: View, tx: TxCtx, config: Config) -> None:
    p = tx.payload
    level = LEVELS[org_depth(p["org_id"]) - 1]
    authority = p["approval_authority"]
    if authority is None:
        authority = level == config.get_str("approval_authority_level")
    rec = org_record(
        org_id=p["org_id"],
        name=p["name"],
        enc_pubkey=p["enc_pubkey"],
        approval_authority=authority,
        founded_date=p["founded_date"],
        created_by=tx.tx_hex,
        height=tx.height,
    )
    view.put(keys.org(p["org_id"]), rec)
    view.put(keys.org_enc_key(p["org_id"], 1), {"enc_pubkey": p["enc_pubkey"], "set_height": tx.height})


ORG_SET_ENC_KEY = Obj((req("org_id", Str(164, pattern=ORG_PATTERN)), req("enc_pubkey", Hex(32))))


def _check_org_set_enc_key(view: View, tx: TxCtx, config: Config) -> None:
    require_role(view, tx, ("admin",))
    require_subtree(tx, tx.payload["org_id"])
    require_org(view, tx.payload["org_id"])


def _apply_org_set_enc_key(view: View, tx: TxCtx, config: Config) -> None:
    org_id = tx.payload["org_id"]
    rec = require_org(view, org_id)
    rec["enc_key_version"] += 1
    rec["enc_pubkey"] = tx.payload["enc_pubkey"]
    view.put(keys.org(org_id), rec)
    view.put(
        keys.org_enc_key(org_id, rec["enc_key_version"]),
        {"enc_pubkey": tx.payload["enc_pubkey"], "set_height": tx.height},
    )


ORG_SET_POST = Obj(
    (
        req("org_id", Str(164, pattern=ORG_PATTERN)),
        req("person_key", Hex(32)),
        req("post", Enum(POSTS)),
        req("action", Enum(("APPOINT", "END"))),
        req("date", Date(), "first day in the post (APPOINT) or last day (END)"),
    )
)


def _check_org_set_post(view: View, tx: TxCtx, config: Config) -> None:
    require_role(view, tx)
    p = tx.payload
    require_subtree(tx, p["org_id"])
    require_org(view, p["org_id"])
    rec = view.get(keys.post(p["org_id"], p["person_key"], p["post"]))
    terms = [] if rec is None else rec["terms"]
    open_terms = [t for t in terms if t["end"] is None]
    if p["action"] == "APPOINT" and open_terms:
        raise TxRejected("post_held", "the person already holds this post")
    if p["action"] == "END":
        if not open_terms:
            raise TxRejected("post_not_held", "the person does not hold this post")
        if p["date"] < open_terms[0]["start"]:
            raise TxRejected("bad_date", "a term cannot end before it started")


def _apply_org_set_post(view: View, tx: TxCtx, config: Config) -> None:
    p = tx.payload
    key = keys.post(p["org_id"], p["person_key"], p["post"])
    rec = view.get(key) or {
        "org_id": p["org_id"],
        "person_key": p["person_key"],
        "post": p["post"],
        "terms": [],
    }
    if p["action"] == "APPOINT":
        rec["terms"].append({"start": p["date"], "end": None})
    else:
        rec["terms"][-1]["end"] = p["date"]
    view.put(key, rec)


# ----------------------------------------------------------------------------------------- user.*
USER_REGISTER = Obj(
    (
        req("user_id", Str(128, pattern=ID_PATTERN)),
        req("org_id", Str(164, pattern=ORG_PATTERN)),
        req("pubkey", Hex(32), "ed25519 public key"),
        req("roles", List(Enum(ROLES), max_len=len(ROLES), min_len=1, unique=True)),
    )
)


def _check_user_register(view: View, tx: TxCtx, config: Config) -> None:
    require_role(view, tx, ("admin",))
    p = tx.payload
    require_subtree(tx, p["org_id"])
    require_org(view, p["org_id"])
    if view.exists(keys.user(p["pubkey"])):
        raise TxRejected("key_exists", "this public key is already registered")
    if view.exists(keys.user_id(p["user_id"])):
        raise TxRejected("user_exists", f"user id {p['user_id']} is already registered")


def _apply_user_register(view: View, tx: TxCtx, config: Config) -> None:
    p = tx.payload
    rec = user_record(
        user_id=p["user_id"], org_id=p["org_id"], pubkey=p["pubkey"], roles=p["roles"], height=tx.height
    )
    view.put(keys.user(p["pubkey"]), rec)
    view.put(keys.user_id(p["user_id"]), {"user_id": p["user_id"], "pubkey": p["pubkey"]})


def _target_user(view: View, tx: TxCtx) -> dict[str, Any]:
    require_role(view, tx, ("admin",))
    rec = get_user(view, bytes.fromhex(tx.payload["pubkey"]))
    if rec is None:
        raise TxRejected("unknown_user", "no user has this public key")
    require_subtree(tx, rec["org_id"], "the user's organisation")
    if rec["status"] != "ACTIVE":
        raise TxRejected("key_not_live", f"the user's key is {rec['status']}")
    return rec


USER_ROLE = Obj((req("pubkey", Hex(32)), req("role", Enum(ROLES))))


def _check_user_grant_role(view: View, tx: TxCtx, config: Config) -> None:
    rec = _target_user(view, tx)
    if tx.payload["role"] in rec["roles"]:
        raise TxRejected("role_held", "the user already holds this role")


def _apply_user_grant_role(view: View, tx: TxCtx, config: Config) -> None:
    rec = _target_user(view, tx)
    rec["roles"] = sorted([*rec["roles"], tx.payload["role"]])
    view.put(keys.user(tx.payload["pubkey"]), rec)


def _check_user_revoke_role(view: View, tx: TxCtx, config: Config) -> None:
    rec = _target_user(view, tx)
    if tx.payload["role"] not in rec["roles"]:
        raise TxRejected("role_not_held", "the user does not hold this role")
    if len(rec["roles"]) == 1:
        raise TxRejected("last_role", "a user keeps at least one role; revoke the key instead")


def _apply_user_revoke_role(view: View, tx: TxCtx, config: Config) -> None:
    rec = _target_user(view, tx)
    rec["roles"] = sorted(r for r in rec["roles"] if r != tx.payload["role"])
    view.put(keys.user(tx.payload["pubkey"]), rec)


USER_ROTATE = Obj((req("pubkey", Hex(32), "the key being replaced"), req("new_pubkey", Hex(32))))


def _check_user_rotate(view: View, tx: TxCtx, config: Config) -> None:
    _target_user(view, tx)
    if view.exists(keys.user(tx.payload["new_pubkey"])):
        raise TxRejected("key_exists", "the new public key is already registered")


def _apply_user_rotate(view: View, tx: TxCtx, config: Config) -> None:
    old = _target_user(view, tx)
    new_hex = tx.payload["new_pubkey"]
    old["status"] = "ROTATED"
    old["rotated_to"] = new_hex
    view.put(keys.user(tx.payload["pubkey"]), old)
    new = user_record(
        user_id=old["user_id"],
        org_id=old["org_id"],
        pubkey=new_hex,
        roles=old["roles"],
        height=tx.height,
        rotated_from=tx.payload["pubkey"],
    )
    view.put(keys.user(new_hex), new)
    view.put(keys.user_id(old["user_id"]), {"user_id": old["user_id"], "pubkey": new_hex})


USER_REVOKE = Obj((req("pubkey", Hex(32)), req("reason", Str(512, text=True))))


def _check_user_revoke(view: View, tx: TxCtx, config: Config) -> None:
    _target_user(view, tx)


def _apply_user_revoke(view: View, tx: TxCtx, config: Config) -> None:
    rec = _target_user(view, tx)
    rec["status"] = "REVOKED"
    rec["revoked_height"] = tx.height
    rec["revoke_reason"] = tx.payload["reason"]
    view.put(keys.user(tx.payload["pubkey"]), rec)


_ADMIN_UP = "an admin of the user's org or of an ancestor"
TX_SPECS: tuple[TxSpec, ...] = (
    TxSpec(
        name="org.create",
        family="org",
        description="Create a child organisation (one level below the signer's org).",
        signers="an admin of the parent org (the transaction's org)",
        schema=ORG_CREATE,
        check=_check_org_create,
        apply=_apply_org_create,
    ),
    TxSpec(
        name="org.set_enc_key",
        family="org",
        description="Set an organisation's X25519 encryption public key (versioned).",
        signers="an admin of the org or of an ancestor",
        schema=ORG_SET_ENC_KEY,
        check=_check_org_set_enc_key,
        apply=_apply_org_set_enc_key,
    ),
    TxSpec(
        name="org.set_post",
        family="org",
        description="Appoint a person to, or end a person's term in, a post of an organisation.",
        signers="an operator or admin of the org or of an ancestor",
        schema=ORG_SET_POST,
        check=_check_org_set_post,
        apply=_apply_org_set_post,
    ),
    TxSpec(
        name="user.register",
        family="org",
        description="Register a user's ed25519 key with roles in an organisation.",
        signers=_ADMIN_UP,
        schema=USER_REGISTER,
        check=_check_user_register,
        apply=_apply_user_register,
    ),
    TxSpec(
        name="user.grant_role",
        family="org",
        description="Grant a role to a user.",
        signers=_ADMIN_UP,
        schema=USER_ROLE,
        check=_check_user_grant_role,
        apply=_apply_user_grant_role,
    ),
    TxSpec(
        name="user.revoke_role",
        family="org",
        description="Take a role from a user (a user keeps at least one).",
        signers=_ADMIN_UP,
        schema=USER_ROLE,
        check=_check_user_revoke_role,
        apply=_apply_user_revoke_role,
    ),
    TxSpec(
        name="user.rotate_key",
        family="org",
        description="Replace a user's key; the old key is never live again.",
        signers=_ADMIN_UP,
        schema=USER_ROTATE,
        check=_check_user_rotate,
        apply=_apply_user_rotate,
    ),
    TxSpec(
        name="user.revoke",
        family="org",
        description="Revoke a user's key for ever.",
        signers=_ADMIN_UP,
        schema=USER_REVOKE,
        check=_check_user_revoke,
        apply=_apply_user_revoke,
    ),
)
