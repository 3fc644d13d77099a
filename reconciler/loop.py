"""loop (being written)."""
