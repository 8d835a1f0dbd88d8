"""The running node: `node.Node` (peers, gossip, submit, catch-up answers, the commit fan-out), the
consensus driver (`driver.py`), mempool, signature cache and the one stateless transaction check
(`mempool.py`, `sigcache.py`, `txcheck.py`), and the executor that applies committed blocks
(`executor.py`); what it tells the rest of the node is one `events.CommitEvent` per block.

May import: `wire`, `consensus`, `contracts`, `network`, `node.store`, and `node.config`,
`node.errors`, `node.metrics`, `node.failpoints`. Never the API, privacy, the index, the CLI or the
dev tools: the composition root (`node/app.py`) subscribes those to the runtime.
"""
