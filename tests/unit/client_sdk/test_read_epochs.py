"""Read proofs across validator epochs (issue 17 with issue 16): the read verifier checks a proof's
anchor block against the set in force at its height, learnt from genesis plus the certified
changes. A header of a later epoch is `UnknownEpochError` until the client verified the epoch
chain (`/v1/validators`); the read flow fetches it once and checks again; a chain that does not
verify from genesis (signed by the new set alone, or withheld) is refused and changes nothing."""

from __future__ import annotations

import time
from typing import Any

import pytest

from client_sdk.core import Call, Reply
from client_sdk.errors import UnknownEpochError, VerificationError
from client_sdk.readcore import ReadState, proven_flow, scope_flow
from client_sdk.readproofs import ReadVerifier
from tests.support.auditchain import BuiltChain
from wire.certificate import ValidatorSet, make_certificate
from wire.crypto import Domain, SigningKey
from wire.epochs import EpochProof
from wire.types import BlockHeader, commit_vote_bytes

NEWCOMER = SigningKey(b"\x42" * 32)


def _header(chain: BuiltChain, height: int, current: ValidatorSet, following: ValidatorSet) -> BlockHeader:
    return BlockHeader(
        chain_id=chain.genesis.chain_id,
        height=height,
        view=0,
        timestamp_ms=1,
        prev_block_hash=bytes(32),
        tx_root=bytes(32),
        prev_state_root=b"\x07" * 32,
        prev_results_root=bytes(32),
        validators_hash=current.hash,
        proposer=0,
        next_validators_hash=following.hash,
    )


def _certify(chain: BuiltChain, header: BlockHeader, signers: list[SigningKey]) -> bytes:
    payload = commit_vote_bytes(header.height, 0, header.hash)
    sigs = [(i, k.sign(Domain.COMMIT, chain.genesis.chain_id, payload)) for i, k in enumerate(signers)]
    return make_certificate(header.height, 0, header.hash, sigs).encode()


def _epochs(chain: BuiltChain) -> tuple[list[SigningKey], ValidatorSet, EpochProof, BlockHeader, bytes]:
    """A newcomer added at the first checkpoint: the boundary proof, and a later header it signed."""
    old_keys = [k for k in chain.keys if k.public in chain.genesis.validators.pubkeys]
    old = chain.genesis.validators
    new_keys = [*old_keys, NEWCOMER]
    new = ValidatorSet(tuple(k.public for k in new_keys))
    boundary = chain.genesis.consensus.checkpoint_interval
    head = _header(chain, boundary, old, new)
    proof = EpochProof(
        start=boundary + 1,
        validators=new.pubkeys,
        header_bytes=head.encode(),
        certificate_bytes=_certify(chain, head, old_keys),
    )
    later = _header(chain, boundary + 3, new, new)
    return new_keys, new, proof, later, _certify(chain, later, new_keys)


def test_a_header_of_a_later_epoch_verifies_once_the_epochs_are_learnt(sdk_chain: BuiltChain) -> None:
    _, new, proof, later, cert = _epochs(sdk_chain)
    v = ReadVerifier(sdk_chain.genesis)
    with pytest.raises(UnknownEpochError):
        v.certify(later.height, later.encode(), cert)
    v.learn_epochs({"epochs": [proof.to_json()]})
    assert v.certify(later.height, later.encode(), cert) == later
    assert v.anchor.validators_at(later.height) == new
    assert v.is_node_key(NEWCOMER.public)  # a validator key of a verified epoch reads as a node


def test_an_epoch_chain_that_does_not_verify_from_genesis_is_refused(sdk_chain: BuiltChain) -> None:
    new_keys, _, proof, later, cert = _epochs(sdk_chain)
    head = BlockHeader.decode(proof.header_bytes)
    forged = EpochProof(
        start=proof.start,
        validators=proof.validators,
        header_bytes=proof.header_bytes,
        certificate_bytes=_certify(sdk_chain, head, new_keys[1:]),  # the new set vouching for itself
    )
    v = ReadVerifier(sdk_chain.genesis)
    with pytest.raises(VerificationError, match="do not verify"):
        v.learn_epochs({"epochs": [forged.to_json()]})
    with pytest.raises(VerificationError, match="malformed"):
        v.learn_epochs({"epochs": "none"})
    with pytest.raises(UnknownEpochError):  # nothing was learnt
        v.certify(later.height, later.encode(), cert)
    assert not v.is_node_key(NEWCOMER.public)


def _proof_doc(chain: BuiltChain, later: BlockHeader, cert: bytes) -> dict[str, Any]:
    v = later.height - chain.genesis.consensus.exec_lag
    anchor = {"height": later.height, "header_bytes": later.encode().hex(), "certificate_bytes": cert.hex()}
    return {
        "proof": {
            "height": v,
            "reflects": v,
            "state_root": later.prev_state_root.hex(),
            "anchor": anchor,
            "nodes": [],
            "ranges": [],
        }
    }


def test_the_read_flow_learns_the_epochs_once_and_checks_again(sdk_chain: BuiltChain) -> None:
    _, _, proof, later, cert = _epochs(sdk_chain)
    v = ReadVerifier(sdk_chain.genesis)
    flow = proven_flow(v, _proof_doc(sdk_chain, later, cert), deadline=time.monotonic() + 5)
    call = next(flow)
    assert isinstance(call, Call) and call.path == "/v1/validators"
    with pytest.raises(StopIteration) as done:
        flow.send(Reply(200, {"height": later.height, "epochs": [proof.to_json()], "nodes": []}))
    state = done.value.value
    assert state.anchor_height == later.height and state.state_root == later.prev_state_root
    # a node that withholds the epoch: the same answer fails after the one refresh
    flow = proven_flow(ReadVerifier(sdk_chain.genesis), _proof_doc(sdk_chain, later, cert), deadline=0)
    next(flow)
    with pytest.raises(UnknownEpochError):
        flow.send(Reply(200, {"height": later.height, "epochs": [], "nodes": []}))


def test_a_validator_key_of_a_learnt_epoch_reads_as_the_root_scope(sdk_chain: BuiltChain) -> None:
    _, _, proof, _, _ = _epochs(sdk_chain)
    v = ReadVerifier(sdk_chain.genesis)
    v.learn_epochs({"epochs": [proof.to_json()]})
    rs = ReadState(v, NEWCOMER.public)
    flow = scope_flow(rs, deadline=time.monotonic() + 5)
    assert isinstance(next(flow), Call)  # whoami
    with pytest.raises(StopIteration) as done:
        flow.send(Reply(200, {"pubkey": NEWCOMER.public.hex(), "height": 1}))
    assert done.value.value == "" and rs.scope == ""
