"""Canonical encodings of the consensus messages (tags 32-38) and the quorum table."""

from __future__ import annotations

import pytest

from consensus.messages import (
    CommittedProof,
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
from wire import codec
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


def _full_view_changes(q: int = 4, blocks: int = 6, txs: int = 200) -> tuple[ViewChange, ...]:
    """q VIEW-CHANGEs that report the same blocks, as after a view change under load."""
    chain = []
    prev = H
    for seq in range(3, 3 + blocks):
        body = tuple(bytes([seq, i % 256]) * 150 for i in range(txs))
        header = BlockHeader(
            chain_id="c",
            height=seq,
            view=1,
            timestamp_ms=5,
            prev_block_hash=prev,
            tx_root=merkle_root(list(body)),
            prev_state_root=H,
            prev_results_root=H,
            validators_hash=H,
            proposer=1,
        )
        chain.append(Block(header=header, txs=body))
        prev = chain[-1].hash
    committed = tuple(
        CommittedProof(
            block=b,
            certificate=CommitCertificate(
                height=b.header.height, view=1, block_hash=b.hash, signatures=((0, SIG),)
            ),
        )
        for b in chain[:-2]
    )
    prepared = tuple(
        PreparedCert(view=1, seq=b.header.height, block=b, pp_signature=SIG, prepares=((0, SIG),))
        for b in chain[-2:]
    )
    return tuple(
        ViewChange(
            view=2, epoch=1, replica=r, checkpoint=None, committed=committed, prepared=prepared, signature=SIG
        )
        for r in range(q)
    )


def test_a_new_view_carries_each_block_once() -> None:
    """A NEW-VIEW of q VIEW-CHANGEs that report the same blocks was q times their size: 17 MB on
    a network restarted on a long chain, over the p2p frame limit, so no view change completed."""
    vcs = _full_view_changes()
    compact = NewView(view=2, epoch=1, replica=2, view_changes=vcs, reproposals=(), signature=SIG)
    inline = NewView(
        view=2, epoch=1, replica=2, view_changes=vcs, reproposals=(), signature=SIG, blocks_inline=True
    )
    data, old = compact.encode(), inline.encode()
    assert len(data) < len(old) / 3.5 and len(data) < len(vcs[0].encode()) * 1.1
    assert decode_message(data) == compact and decode_message(data).encode() == data
    decoded = decode_message(data)
    assert isinstance(decoded, NewView)  # each block decoded once, shared by every VIEW-CHANGE
    assert decoded.view_changes[0].committed[0].block is decoded.view_changes[3].committed[0].block
    # an older node's form still decodes, and stays itself (its signature covers that form)
    assert decode_message(old) == inline and decode_message(old).encode() == old
    assert inline.payload() != compact.payload()


def test_a_new_view_block_table_must_be_canonical() -> None:
    vcs = _full_view_changes(q=2, blocks=3, txs=2)
    wire = NewView(view=2, epoch=1, replica=2, view_changes=vcs, reproposals=(), signature=SIG).to_wire()
    blocks = wire[5]
    assert len(blocks) == 3
    for bad_blocks in ([*blocks, blocks[0]], [*blocks, b"unused"]):  # a block twice, one unused
        bad = [*wire[:5], bad_blocks, *wire[6:]]
        with pytest.raises(DecodeError, match="once"):
            decode_message(codec.encode_trusted(bad))
    with pytest.raises(DecodeError):  # a table entry that is not bytes
        decode_message(codec.encode_trusted([*wire[:5], [*blocks[:2], "text"], *wire[6:]]))
    for index in (9, 1):  # past the table; a later block before the first is mentioned
        first_vc = list(wire[6][0])
        first_vc[6] = [[index, c[1]] for c in first_vc[6]]
        with pytest.raises(DecodeError):
            decode_message(codec.encode_trusted([*wire[:6], [first_vc, *wire[6][1:]], *wire[7:]]))
