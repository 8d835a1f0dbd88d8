"""The deterministic rule contracts: record families, the organisation tree and identities, the rules
of DOMAIN.md, alerts and rule configuration. Pure: block time is the only clock; imports nothing of
the project but `wire`."""
