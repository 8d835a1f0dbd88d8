"""The orgledger node process, one subpackage per job:

- `runtime/`: the Node (peers, gossip, submit, commit fan-out), the consensus driver, mempool,
  signature cache, the stateless transaction check, the executor.
- `store/`: the LevelDB block store, the start-up integrity check, proofs read from the store.
- `index/`: the SQL read index, a rebuildable cache of ledger state.
- `api/`: the HTTP API: app factory, the one error-to-status table, authentication, route groups.
- `privacy/`: person keys, org key chains, blobs, the access log and its anchors.
- `cli/`: the `orgledger` command, one module per command group.
- `dev/`: local networks, topologies, workloads, load generator, benchmarks, chain generator, seed.

Beside them: `app.py` (the one composition root that builds and wires a node), `config.py`,
`errors.py` (the NodeError tree), `metrics.py`, `failpoints.py`. Import rules (tested by
tests/unit/test_layering.py): the runtime never imports the API, privacy, the CLI or the dev
tools; the API never privacy, the CLI or the dev tools; the store and the index none of those;
only the CLI imports the dev tools; only the CLI and the dev tools use the client SDK.
"""

__version__ = "0.1.0"
