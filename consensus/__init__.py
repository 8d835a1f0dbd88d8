"""The PBFT replica as a pure state machine: `step(event) -> list[Action]`.

No IO, no clock, no randomness: the node's driver and the deterministic simulator feed it events
and carry out its actions. Imports nothing of the project but `wire`.
"""
