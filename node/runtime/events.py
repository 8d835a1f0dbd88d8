"""What the runtime tells the rest of the node: one event per committed block.

Rules: the driver builds one `CommitEvent` after the block is stored (the executor's meta and
receipts, nothing read back), hands it to the Node, which fans it out to the listeners the
composition root subscribed (`node/app.py`: the read index, the event stream). A listener is
called on the event loop, must return quickly and must not raise (a failure is logged, never
stops consensus).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from node.store.storage import Meta
from wire.types import Block, CommitCertificate, Receipt


@dataclass(frozen=True, slots=True, kw_only=True)
class CommitEvent:
    block: Block
    certificate: CommitCertificate
    meta: Meta
    receipts: tuple[Receipt, ...]
    apply_seconds: float  # executing and storing the block
    registry_changed: bool = False  # a node or node-key record changed (the peer set follows)

    @property
    def height(self) -> int:
        return self.meta.height


CommitListener = Callable[[CommitEvent], None]
