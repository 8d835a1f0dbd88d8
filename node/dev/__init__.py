"""Tools for local networks and measurement: network init and topologies (`netinit.py`,
`topology.py`, `topologies/`), the local network (`devnet.py`), workloads and the load generator
with its Jepsen-style checker (`workload.py`, `loadgen.py`), benchmarks (`bench.py`,
`benchfigures.py`), the offline chain generator (`chaingen.py`) and the seeded history
(`seed/`).

May import anything of the project but the CLI; only `node.cli` imports this package.
"""
