"""Unit tests of `reconciler/runtime/`."""
