"""registry (being written)."""
