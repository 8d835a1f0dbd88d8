"""Block transfer between peers (catch-up): the request, the answer and its bounds.

Rules:

- A request is `["blocks", lo, hi]`; the answer is `["blocks", [[block, certificate], ...]]`, the
  stored blocks from max(lo, 1) up to the lowest of hi, the node's executed height and
  lo + TRANSFER_BLOCKS_MAX - 1, stopping before TRANSFER_BYTES_MAX bytes (at least one block).
- An answer is parsed without trusting it: anything but that shape is no blocks, and at most
  TRANSFER_BLOCKS_MAX pairs are taken. The replica verifies every block and certificate it gets.
"""

from __future__ import annotations

from node.store.storage import BlockStore
from wire import codec

TRANSFER_BLOCKS_MAX = 64
TRANSFER_BYTES_MAX = 8 * 1024 * 1024


def blocks_request(lo: int, hi: int) -> bytes:
    return codec.encode_trusted(["blocks", lo, hi])


def serve_blocks(store: BlockStore, executed: int, lo: int, hi: int) -> bytes:
    """The answer to a request for blocks lo..hi from a store whose executed height is `executed`."""
    top = min(hi, executed, lo + TRANSFER_BLOCKS_MAX - 1)
    items: list[list[bytes]] = []
    size = 0
    for h in range(max(lo, 1), top + 1):
        block, cert = store.block_bytes(h), store.certificate_bytes(h)
        if block is None or cert is None:
            break
        size += len(block) + len(cert)
        if items and size > TRANSFER_BYTES_MAX:
            break
        items.append([block, cert])
    return codec.encode_trusted(["blocks", items])


def parse_blocks(raw: bytes) -> tuple[tuple[bytes, bytes], ...]:
    """The (block, certificate) pairs of an answer (raises wire's DecodeError on bad bytes)."""
    doc = codec.decode(raw)
    if not isinstance(doc, list) or len(doc) != 2 or doc[0] != "blocks" or not isinstance(doc[1], list):
        return ()
    out = []
    for item in doc[1][:TRANSFER_BLOCKS_MAX]:
        if isinstance(item, list) and len(item) == 2 and all(isinstance(x, bytes) for x in item):
            out.append((item[0], item[1]))
    return tuple(out)
