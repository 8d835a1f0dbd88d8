"""Peer transport between nodes: aiohttp websockets, mutually authenticated handshake, framing with
length limits, bounded queues and reconnects."""
