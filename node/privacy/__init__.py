"""node/privacy."""
