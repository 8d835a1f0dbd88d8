"""The library integrating systems and auditors use: transaction builders, signing, clients, and
verification of certificates and proofs. Imports only `wire` of the project."""
