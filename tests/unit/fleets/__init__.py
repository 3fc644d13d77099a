"""Unit tests of `reconciler/fleets/`."""
