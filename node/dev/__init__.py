"""node/dev."""
