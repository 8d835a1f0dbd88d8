"""Block transfer answers (node/runtime/transfer.py) are parsed without trusting them."""

from __future__ import annotations

import pytest

from node.runtime.transfer import TRANSFER_BLOCKS_MAX, blocks_request, parse_blocks
from wire import codec
from wire.errors import DecodeError


def test_an_answer_of_another_shape_is_no_blocks() -> None:
    for doc in (["error", "bad_request"], ["blocks"], ["blocks", "x"], {"blocks": []}, 7):
        assert parse_blocks(codec.encode(doc)) == ()
    odd = ["blocks", [[b"b", b"c"], [b"b"], ["s", b"c"], [b"b2", b"c2"]]]
    assert parse_blocks(codec.encode(odd)) == ((b"b", b"c"), (b"b2", b"c2"))


def test_at_most_the_bound_is_taken_and_garbage_raises() -> None:
    many = ["blocks", [[b"b", b"c"]] * (TRANSFER_BLOCKS_MAX + 10)]
    assert len(parse_blocks(codec.encode(many))) == TRANSFER_BLOCKS_MAX
    with pytest.raises(DecodeError):
        parse_blocks(b"\xc1garbage")
    assert codec.decode(blocks_request(3, 9)) == ["blocks", 3, 9]
