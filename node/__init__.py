"""The orgledger node process: configuration, the driver that feeds the consensus replica and carries
out its actions, mempool, block execution, storage (plyvel), index, read API and the CLI."""

__version__ = "0.1.0"
