"""Wire formats shared by every part of orgledger (node, consensus, contracts, SDK, auditor).

One small package so that all sides encode, hash, sign and verify identically:
`codec` (canonical msgpack), `crypto` (SHA-256, domain-separated ed25519, key files),
`merkle` (RFC 6962 trees and proofs), `statehash` (the state root), `types` (transactions,
blocks, certificates, receipts), `certificate` (validator sets and quorum), `genesis`.
It imports nothing else of the project.
"""
