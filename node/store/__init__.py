"""node/store."""
