"""Unit tests of `providers/`."""
