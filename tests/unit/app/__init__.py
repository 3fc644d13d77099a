"""Unit tests of `reconciler/app/`."""
