"""settings (being written)."""
