"""The deterministic simulator: the whole cluster in one process, driven by one seed.

The one part of `consensus` allowed to own randomness (a seeded `random.Random`): it runs the real
`Replica` code against a simulated network, disk and clock, injects crashes, partitions, clock
skew, byzantine replicas and twins, and checks safety on every step and liveness after healing.
`orgledger sim` is its command line (`consensus.sim.cli.run`).
"""
