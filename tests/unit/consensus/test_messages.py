"""Canonical encodings of the consensus messages (tags 32-38) and the quorum table."""

from __future__ import annotations

import pytest

from consensus.messages import (
    CommitVote,
    Message,
    NewView,
    PreparedCert,
    PrepareVote,
    PrePrepare,
    Reproposal,
    StableProof,
    Status,
    ViewChange,
    commit_payload,
    decode_message,
)
from wire.certificate import quorum_size
from wire.errors import DecodeError
from wire.merkle import merkle_root
from wire.types import Block, BlockHeader, CommitCertificate, commit_vote_bytes

SIG = bytes(range(64))
H = bytes(range(32))
BLOCK = Block(
    header=BlockHeader(
        chain_id="c",
        height=3,
        view=1,
        timestamp_ms=5,
        prev_block_hash=H,
        tx_root=merkle_root([b"a"]),
        prev_state_root=H,
        prev_results_root=H,
        validators_hash=H,
        proposer=1,
    ),
    txs=(b"a",),
)
PC = PreparedCert(view=1, seq=3, block=BLOCK, pp_signature=SIG, prepares=((0, SIG), (2, SIG)))
VC = ViewChange(
    view=2,
    epoch=1,
    replica=1,
    checkpoint=StableProof(
        seq=2, block_hash=H, state_root=H, results_root=H, signatures=((0, SIG), (1, SIG))
    ),
    committed=(),
    prepared=(PC,),
    signature=SIG,
)
MESSAGES: list[Message] = [
    PrePrepare(view=1, seq=3, block=BLOCK, signature=SIG),
    PrepareVote(view=1, seq=3, digest=H, replica=2, signature=SIG),
    CommitVote(view=1, seq=3, digest=H, replica=2, signature=SIG),
    VC,
    NewView(
        view=2,
        epoch=1,
        replica=2,
        view_changes=(VC,),
        reproposals=(Reproposal(seq=3, digest=H, signature=SIG),),
        signature=SIG,
    ),
    Status(replica=0, view=2, active=True, committed_height=9, certificate=b"", stable_seq=8),
]


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: type(m).__name__)
def test_decode_inverts_encode_and_encode_inverts_decode(msg: Message) -> None:
    data = msg.encode()
    assert decode_message(data) == msg
    assert decode_message(data).encode() == data
    assert data[1] >= 32  # consensus tags never collide with wire.types (1-8)


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: type(m).__name__)
def test_truncated_or_extended_bytes_are_rejected(msg: Message) -> None:
    data = msg.encode()
    for bad in (data[:-1], data + b"\x00", data[:1]):
        with pytest.raises(DecodeError):
            decode_message(bad)


def test_commit_signatures_are_certificate_signatures() -> None:
    """A COMMIT's signed payload is exactly what a CommitCertificate signature covers."""
    assert commit_payload(4, 9, H) == commit_vote_bytes(9, 4, H)
    cert = CommitCertificate(height=9, view=4, block_hash=H, signatures=((0, SIG),))
    assert CommitCertificate.decode(cert.encode()) == cert


@pytest.mark.parametrize(("n", "q"), [(4, 3), (5, 4), (6, 4), (7, 5), (10, 7), (16, 11), (31, 21)])
def test_quorum_table(n: int, q: int) -> None:
    """RELIABILITY §1: q = ceil((n+f+1)/2); two quorums share at least f+1 validators."""
    f = (n - 1) // 3
    assert quorum_size(n) == q
    assert 2 * q - n >= f + 1
